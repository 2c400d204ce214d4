"""Fisher information of the force predictions with respect to the optimized parameters.

For configuration m with force vector f_m (3N components) and Jacobian
``J_m = ∂f_m/∂x`` with respect to the optimization vector x (the free parameter
components in the transformed space, as KLIFF differentiates), the per-configuration
information is ``I_m = J_mᵀ J_m``.  Following KLIFF, :meth:`Fisher.run` returns the mean of
the I_m over the M configurations and their standard deviation.  The information of the
whole data set is ``M · I``; the parameter standard deviations reported here are
``sqrt(diag((M·I)⁻¹))`` — the Cramér–Rao bound for unit-variance force noise.

Built-in models give the exact Jacobian (one engine call for the whole set).  Models
without one (KIM models) are differentiated numerically with Ridders' extrapolation of
central differences, element-wise over all force components at once.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import LossError

FILENAME = "analysis_Fisher_info_matrix.txt"
#: eigenvalues below RCOND × the largest count as zero (a singular matrix)
RCOND = 1e-12


def ridders_derivative(fn, x, h0, con=1.4, ntab=10, safe=2.0):
    """Derivative of the array-valued ``fn`` at the scalar ``x`` by Ridders' method.

    Central differences with steps ``h0, h0/con, h0/con², ...`` are extrapolated to zero
    step in a Neville tableau; every output component keeps the estimate with the smallest
    error estimate.  Stops once the error of the diagonal grows by ``safe`` for every
    component.  Returns ``(derivative, error_estimate)``.
    """
    if h0 <= 0:
        raise ValueError(f"ridders_derivative: initial step must be positive, got {h0}")
    con2 = con * con
    h = float(h0)
    prev = [(np.asarray(fn(x + h), float) - np.asarray(fn(x - h), float)) / (2 * h)]
    best = prev[0].copy()
    err = np.full(best.shape, np.inf)
    for i in range(1, ntab):
        h /= con
        cur = [(np.asarray(fn(x + h), float) - np.asarray(fn(x - h), float)) / (2 * h)]
        fac = con2
        for j in range(1, i + 1):
            cur.append((cur[j - 1] * fac - prev[j - 1]) / (fac - 1.0))
            fac *= con2
            errt = np.maximum(np.abs(cur[j] - cur[j - 1]), np.abs(cur[j] - prev[j - 1]))
            better = errt <= err
            best = np.where(better, cur[j], best)
            err = np.where(better, errt, err)
        if np.all(np.abs(cur[i] - prev[i - 1]) >= safe * err):
            break
        prev = cur
    return best, err


class Fisher:
    """Fisher information matrix of the forces (KLIFF's analyzer, for every model type).

    Args:
        calculator: a created :class:`workbench.fit.calculator.Calculator`.
        method: "auto" (exact Jacobian for models that provide one, Ridders for KIM
            models), "exact" or "ridders".
        ridders_step: initial Ridders step relative to ``max(|x_i|, 1)``.

    After :meth:`run`: ``F`` (mean information), ``F_stdev``, ``F_total`` (= M·F),
    ``param_std``, ``eigenvalues`` (ascending), ``condition_number``, ``singular``,
    ``message``, ``names``.
    """

    def __init__(self, calculator, method="auto", ridders_step=0.05):
        if method not in ("auto", "exact", "ridders"):
            raise LossError(f"Fisher method must be 'auto', 'exact' or 'ridders', got "
                            f"{method!r}")
        self.calculator = calculator
        self.method = method
        self.ridders_step = float(ridders_step)
        self.F = self.F_stdev = None

    def _use_ridders(self) -> bool:
        if self.method != "auto":
            return self.method == "ridders"
        from workbench.models.kim import KIMModel

        # on kim-api the Jacobian is finite differences; on a numba twin it is exact
        model = self.calculator.model
        return isinstance(model, KIMModel) and model.engine == "kim"

    # -- Jacobian ----------------------------------------------------------------------
    def force_jacobian(self) -> np.ndarray:
        """``∂f/∂x`` for all atoms of the data set, shape (N, 3, n_opt)."""
        calc = self.calculator
        calc._require_created()
        model = calc.model
        if model.get_num_opt_params() == 0:
            raise LossError("Fisher: the model has no parameters to optimize; call "
                            "model.set_opt_params(...) first")
        if self._use_ridders():
            return self._ridders_jacobian()
        flat, chain = model.opt_param_chain()
        result = model.compute(calc.state_, forces=True, stress=False, jacobian=True,
                               columns=flat)
        if result.d_forces is None:
            raise LossError(f"{type(model).__name__}.compute returned no force Jacobian; "
                            "use Fisher(calc, method='ridders')")
        return np.asarray(result.d_forces, float) * np.asarray(chain, float)

    def _ridders_jacobian(self) -> np.ndarray:
        calc = self.calculator
        model = calc.model
        x0 = np.asarray(model.get_opt_params(), float).copy()
        cols = []
        try:
            for i in range(x0.size):
                def forces_at(v, i=i):
                    x = x0.copy()
                    x[i] = v
                    model.update_model_params(x)
                    return model.compute(calc.state_, forces=True, stress=False).forces
                h0 = self.ridders_step * max(abs(x0[i]), 1.0)
                d, _ = ridders_derivative(forces_at, x0[i], h0)
                cols.append(d)
        finally:
            model.update_model_params(x0)
            calc.result_ = None
        return np.stack(cols, axis=-1)

    # -- analysis ----------------------------------------------------------------------
    def compute(self):
        """Per-configuration information ``I_m`` (M, n, n); fills the summary fields."""
        calc = self.calculator
        J = self.force_jacobian()
        n = J.shape[-1]
        starts = np.asarray(calc.atom_offsets[:-1], dtype=np.int64)
        I_all = np.empty((len(starts), n, n))
        for i in range(n):
            for j in range(i, n):
                per_atom = np.einsum("ac,ac->a", J[:, :, i], J[:, :, j])
                I_all[:, i, j] = I_all[:, j, i] = np.add.reduceat(per_atom, starts)
        self.I_all = I_all
        self.F = I_all.mean(axis=0)
        self.F_stdev = I_all.std(axis=0)
        self.F_total = I_all.sum(axis=0)
        self.names = list(calc.model.get_opt_param_names())
        self._spectrum(n)
        return I_all

    def _spectrum(self, n):
        F = self.F_total
        w = np.linalg.eigvalsh(0.5 * (F + F.T))
        self.eigenvalues = w
        top = float(np.max(np.abs(w))) if w.size else 0.0
        tol = top * RCOND
        self.singular = bool(w.size and w[0] <= tol)
        self.condition_number = float(np.inf if self.singular else top / w[0])
        if self.singular:
            null = np.linalg.eigh(0.5 * (F + F.T))[1][:, 0]
            lead = np.argsort(-np.abs(null))[:3]
            combo = " + ".join(f"{null[k]:+.3g}·{self.names[k]}" for k in lead)
            self.message = (
                f"The Fisher information matrix is singular (smallest eigenvalue "
                f"{w[0]:.3e}, largest {top:.3e}): the forces do not determine the parameter "
                f"combination {combo}. Parameter standard deviations use the pseudo-inverse "
                f"and are not meaningful along that direction; fix or remove one of these "
                f"parameters.")
            cov = np.linalg.pinv(F, rcond=RCOND, hermitian=True)
        else:
            self.message = ""
            cov = np.linalg.inv(F)
        self.covariance = cov
        self.param_std = np.sqrt(np.abs(np.diag(cov)))

    def run(self, verbose=1, path=FILENAME):
        """Compute the Fisher information; returns ``(F, F_stdev)`` as KLIFF does.

        ``verbose=1`` writes ``path`` (default ``analysis_Fisher_info_matrix.txt``) in
        KLIFF's layout: a header listing the parameters, the matrix and its standard
        deviation.  A singular matrix emits a ``RuntimeWarning`` with :attr:`message`.
        """
        self.compute()
        if self.singular:
            import warnings

            warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        if verbose > 0:
            from workbench.atomic import write_text_atomic

            write_text_atomic(path, self.format_file())
        return self.F, self.F_stdev

    def header(self) -> str:
        """The first lines of the Fisher report: parameter names and units convention."""
        model = self.calculator.model
        n = len(self.names)
        bar = "#" * 80
        lines = [bar, "# Fisher information matrix.", "#",
                 f"# The size of the parameter list is {n}, and thus the Fisher information",
                 f"# matrix is a {n} by {n} matrix. The rows (columns) are associated with the",
                 "# parameters in the following order:", "#",
                 "row (column) index   param name    param value    param component index"]
        for k in range(n):
            name, value, _, comp = model.get_opt_param_name_value_and_indices(k)
            lines.append(f"{k}    {name}    {value:23.15e}    {comp}")
        lines.append(bar)
        return "\n".join(lines) + "\n"

    def format_file(self) -> str:
        """The Fisher information matrix and its standard deviation as text, in the
        layout of KLIFF's analyzer output file."""
        n = len(self.names)
        out = [self.header(), f"\n# Fisher information matrix, shape({n}, {n})\n"]
        out += ["".join(f"{v:23.15e} " for v in row) + "\n" for row in self.F]
        out.append(f"\n# Standard deviation in Fisher information matrix, shape({n}, {n})\n")
        out += ["".join(f"{v:23.15e} " for v in row) + "\n" for row in self.F_stdev]
        return "".join(out)

    def summary(self) -> str:
        """Parameter standard deviations, eigenvalues and condition number as text."""
        lines = [f"{'parameter':>14s} {'value':>15s} {'std':>12s}"]
        x = self.calculator.model.get_opt_params()
        for name, v, s in zip(self.names, x, self.param_std):
            lines.append(f"{name:>14s} {v:15.8g} {s:12.4g}")
        lines.append("eigenvalues of M·I: " + " ".join(f"{w:.4g}" for w in self.eigenvalues))
        lines.append(f"condition number: {self.condition_number:.4g}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)
