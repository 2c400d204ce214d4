"""Loss: the fitting objective over a created Calculator (KLIFF's interface).

``Loss`` implements the ``Objective`` protocol (``workbench.fit.objective``): residual,
exact residual Jacobian, loss and gradient ``Jᵀu`` as functions of the optimization
vector ``x`` (the free parameter components, in the transformed space).  For the built-in
residual functions everything is assembled with array operations over the whole data set;
a user residual function with KLIFF's signature
``fn(identifier, natoms, weight, prediction, reference, data)`` runs per configuration.
"""

from __future__ import annotations


import numpy as np

from workbench.errors import LossError
from workbench.fit import residuals as R


_WARMUP = {"residual": False, "gradient": "gradient", "jacobian": True}


def _half_square(u):
    """½‖u‖² without BLAS: a long ``u @ u`` wakes OpenBLAS's thread pool, whose spinning
    threads then compete with the engine's numba threads for the same cores."""
    return 0.5 * float(np.einsum("i,i->", u, u))


class Loss:
    """Objective for fitting a physics-based model.

    Args:
        calculator: a created :class:`workbench.fit.calculator.Calculator`.
        nprocs: number of threads the engine kernels may use (None or 1: numba's default,
            the kernels are already parallel over configurations).
        residual_fn: a built-in residual (default: the one matching the calculator's
            use_energy/use_forces/use_stress) or a user function with KLIFF's signature.
        residual_data: dict passed to the residual function; ``normalize_by_natoms``
            (default True) divides each configuration's residual by its atom count.
        backend: None (evaluate in this process) or a ``dask.distributed.Client``: the
            configurations are sharded over its workers (``workbench.fit.distributed``);
            ``backend_options`` go to ``DaskBackend`` (``nshards``, ``threads``,
            ``timeout``).
    """

    def __new__(cls, calculator, *args, **kwargs):
        if getattr(calculator, "is_torch", False):
            from workbench.ml.loss_torch import LossNeuralNetworkModel

            return LossNeuralNetworkModel(calculator, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, calculator, nprocs=1, residual_fn=None, residual_data=None,
                 backend=None, backend_options=None):
        if getattr(calculator, "state_", None) is None:
            raise LossError("the Calculator has no data: call calc.create(configs) first")
        calculator.check_references()
        self.calculator = calculator
        self.model = calculator.model
        self.nprocs = nprocs
        self.backend = backend
        data = {"normalize_by_natoms": True}
        data.update(residual_data or {})
        self.residual_data = data
        if residual_fn is None:
            residual_fn = R.default_residual(calculator.use_energy, calculator.use_forces,
                                             calculator.use_stress)
        elif isinstance(residual_fn, str):
            from workbench import plugins

            by_name = {**plugins.available_residuals(), **R.RESIDUALS_BY_NAME}
            try:
                residual_fn = by_name[residual_fn]
            except KeyError:
                raise LossError(f"unknown residual {residual_fn!r}; built-in and plugin "
                                f"residuals: {', '.join(by_name)}") from None
        self.residual_fn = residual_fn
        self._assembler = None
        if residual_fn in R.BUILTIN_RESIDUALS:
            try:
                self._assembler = R.ResidualAssembler(
                    calculator, residual_fn, bool(data["normalize_by_natoms"]))
            except ValueError as exc:
                raise LossError(str(exc)) from None
        if nprocs and nprocs > 1:
            import numba

            numba.set_num_threads(min(int(nprocs), numba.config.NUMBA_NUM_THREADS))
        self._cache_key = None
        self._cache = None
        self.n_eval = 0
        self.n_jac = 0
        self._distributed = None
        if backend is not None:
            from workbench.fit.distributed import make_backend

            self._distributed = make_backend(backend, self, **(backend_options or {}))

    # -- Objective protocol -----------------------------------------------------------
    def x0(self):
        """The starting point: the model's current free parameters (transformed space)."""
        return np.asarray(self.calculator.get_opt_params(), dtype=float).copy()

    def bounds(self):
        """Bounds of the free components (transformed space), or None when there are none."""
        if not self.calculator.has_opt_params_bounds():
            return None
        return [tuple(b) for b in self.calculator.get_opt_params_bounds()]

    def names(self):
        """Names of the free components, e.g. ``['A', 'B', 'gamma']``."""
        return list(self.model.get_opt_param_names())

    def warmup(self, kind="jacobian"):
        """Evaluate once at the start point, compiling the kernels of that path only
        (the result is cached): ``kind`` "residual", "gradient" (what gradient methods
        call) or "jacobian" (least squares)."""
        if kind not in _WARMUP:
            raise LossError(f"warmup kind must be one of {sorted(_WARMUP)}, got {kind!r}")
        self._evaluate(self.x0(), jacobian=_WARMUP[kind])

    def set_params(self, x):
        """Put ``x`` into the model (used to leave the model at the best point)."""
        self.calculator.update_model_params(np.asarray(x, dtype=float))

    def residual(self, x):
        """The weighted residual vector u(x) (dimensionless after weighting), laid out per
        configuration: energy, forces, stress."""
        return self._evaluate(x, jacobian=False)[0]

    def residual_and_jacobian(self, x):
        """u(x) and its exact Jacobian du/dx (rows: residuals, columns: free
        components)."""
        return self._evaluate(x, jacobian=True)

    def jacobian(self, x):
        """The exact Jacobian du/dx at ``x``."""
        return self._evaluate(x, jacobian=True)[1]

    def loss(self, x):
        """The loss ``0.5 * |u(x)|^2`` (plus any regularisation) at ``x``."""
        if self._distributed is not None:
            self.set_params(x)
            self.n_eval += 1
            return self._distributed.loss_value(x)
        return _half_square(self.residual(x))

    def loss_and_grad(self, x):
        """The loss and its exact gradient with respect to ``x``."""
        if self._distributed is not None:
            self.set_params(x)
            self.n_eval += 1
            self.n_jac += 1
            return self._distributed.loss_and_grad(x)
        if self._assembler is not None:
            u, g = self._evaluate(x, jacobian="gradient")
            return _half_square(u), g
        u, J = self.residual_and_jacobian(x)
        return 0.5 * float(u @ u), J.T @ u

    def gauss_newton(self, x):
        """``(½‖u‖², Jᵀu, JᵀJ)``; on a Dask backend only these small sums travel."""
        if self._distributed is not None:
            self.set_params(x)
            self.n_eval += 1
            self.n_jac += 1
            return self._distributed.gauss_newton(x)
        u, J = self.residual_and_jacobian(x)
        return 0.5 * float(u @ u), J.T @ u, J.T @ J

    # KLIFF names
    def get_residual(self, x):
        """KLIFF's name for ``residual(x)``."""
        return self.residual(x)

    def get_loss(self, x):
        """KLIFF's name for ``loss(x)``."""
        return self.loss(x)

    # -- evaluation -------------------------------------------------------------------
    def _evaluate(self, x, jacobian):
        """``(u, J)``; with ``jacobian="gradient"``, ``(u, Jᵀu)`` (built-in residuals).

        The last evaluation is cached per point and kind, so an optimizer asking for the
        residual and then the Jacobian at the same point costs one model call.
        """
        x = np.asarray(x, dtype=float)
        key = (x.tobytes(), jacobian)
        if self._cache_key is not None and self._cache_key[0] == key[0]:
            if not jacobian:
                return self._cache[0], None
            if self._cache_key[1] == jacobian:
                return self._cache
        self.set_params(x)
        if self._distributed is not None:
            if jacobian:
                u, J = self._distributed.residual_and_jacobian(x)
                if jacobian == "gradient":  # (u, Jᵀu), as on the serial path
                    J = J.T @ u
            else:
                u, J = self._distributed.residual(x), None
            self.n_eval += 1
            self.n_jac += int(bool(jacobian))
            self._cache_key, self._cache = key, (u, J)
            return u, J
        flat_idx, chain = self.model.opt_param_chain()
        chain = np.asarray(chain)
        if jacobian == "gradient" and self._assembler is not None:
            done = self._one_pass_gradient(flat_idx, chain)
            if done is not None:
                self._cache_key, self._cache = key, done
                return done
        result = self.calculator.compute(jacobian=bool(jacobian), columns=flat_idx)
        self.n_eval += 1
        self.n_jac += int(bool(jacobian))
        if self._assembler is None:
            u, second = self._per_config(result, chain, bool(jacobian))
        else:
            u = self._assembler.residual(result)
            second = None
            if jacobian == "gradient":
                second = self._assembler.gradient(result, chain, u)
            elif jacobian:
                second = self._assembler.jacobian(result, chain)
        self._cache_key, self._cache = key, (u, second)
        return u, second

    def _one_pass_gradient(self, flat_idx, chain):
        """``(u, Jᵀu)`` from a model that contracts the Jacobian inside its engine pass
        (``compute_gradient``), or None when the model or residual cannot."""
        fn = getattr(self.model, "compute_gradient", None)
        weights = self._assembler.gradient_weights() if fn is not None else None
        if weights is None:
            return None
        got = fn(self.calculator.state_, flat_idx, **weights)
        if got is None:
            return None
        result, g = got
        self.calculator.result_ = result
        self.n_eval += 1
        self.n_jac += 1
        return self._assembler.residual(result), g * chain

    def _per_config(self, result, chain, jacobian):
        """User residual functions: one call per configuration (KLIFF's path).

        The Jacobian is the exact prediction Jacobian pushed through the residual
        function by central differences along each prediction direction (exact for the
        usual residuals, which are linear in the prediction).
        """
        calc = self.calculator
        blocks, jblocks = [], []
        for k, conf in enumerate(calc.configs):
            pred = calc.get_prediction(k)
            ref = calc.get_reference(k)
            nat = int(calc.natoms[k])
            args = (conf.identifier, nat, conf.weight)
            u = np.asarray(self.residual_fn(*args, pred, ref, self.residual_data), float)
            blocks.append(u)
            if jacobian:
                dp = self._prediction_jacobian(result, k) * chain
                cols = []
                for j in range(dp.shape[1]):
                    step = 1e-6 * (1.0 + np.linalg.norm(pred)) / max(np.linalg.norm(dp[:, j]), 1e-300)
                    up = self.residual_fn(*args, pred + step * dp[:, j], ref, self.residual_data)
                    dn = self.residual_fn(*args, pred - step * dp[:, j], ref, self.residual_data)
                    cols.append((np.asarray(up, float) - np.asarray(dn, float)) / (2 * step))
                jblocks.append(np.stack(cols, axis=1) if cols else np.zeros((len(u), 0)))
        u = np.concatenate(blocks)
        J = np.concatenate(jblocks) if jacobian else None
        return u, J

    def _prediction_jacobian(self, result, k):
        calc = self.calculator
        a, b = calc.atom_offsets[k], calc.atom_offsets[k + 1]
        parts = []
        if calc.use_energy:
            parts.append(result.d_energy[k][None, :])
        if calc.use_forces:
            parts.append(result.d_forces[a:b].reshape(-1, result.d_forces.shape[-1]))
        if calc.use_stress:
            parts.append(result.d_stress[k])
        return np.concatenate(parts)

    # -- optimization -------------------------------------------------------------------
    def minimize(self, method="L-BFGS-B", **kwargs):
        """Minimize the loss in the calling thread; returns scipy's OptimizeResult.

        ``method`` is any ``scipy.optimize.minimize`` method, a ``least_squares`` method
        (``trf``, ``dogbox``, ``lm``) or ``geodesiclm``; extra keyword arguments go to the
        optimizer (e.g. ``options={"maxiter": 100}``).  The model keeps the best
        parameters found, whatever ends the fit (an exception included); while the fit
        runs it owns the model (changes from other threads are refused, see
        ``workbench.models.ownership``).  For a background fit with live events use
        :meth:`fit_session`.  The fit is recorded in the run store as a ``FitSession``
        is: ``store=`` ("default", a ``RunStore``, a directory, None for no record),
        ``name=``, ``tags=``.
        """
        from workbench.fit.api_run import start_minimize_run
        from workbench.fit.optimizers import run_optimizer
        from workbench.models import ownership

        callback = kwargs.pop("callback", None)
        store, name, tags = (kwargs.pop(k, d) for k, d in (("store", "default"),
                                                           ("name", None), ("tags", None)))
        run = start_minimize_run(self, method, kwargs, store, name, tags)
        try:
            with ownership.owned(self.model, "Loss.minimize"):
                result = run_optimizer(self, method, options=kwargs,
                                       callback=callback if run is None else run.callback(callback))
                self.set_params(result.x)
        except Exception as exc:
            if run is not None:
                run.end(error=exc)
            raise
        if run is not None:
            run.end(result)
        return result

    def fit_session(self, method="L-BFGS-B", **kwargs):
        """A :class:`workbench.fit.session.FitSession` over this loss (not started)."""
        from workbench.fit.session import FitSession

        return FitSession(self, method=method, **kwargs)
