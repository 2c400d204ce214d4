"""The model base class: KLIFF parameter semantics plus the prepare/compute contract.

Parameters (``model.model_params``, name -> :class:`Parameter`, in the model's flat order)
hold original- and transformed-space values side by side (see ``parameter.py``).  The
optimization vector ``x`` is the free components of the parameters chosen with
``set_opt_params`` / ``read_opt_params`` / ``set_fixed``, in the order they were chosen,
in the transformed space.  The fitting layer talks to a model only through ``prepare``,
``compute`` and the ``x`` methods (``get_opt_params``, ``update_model_params``,
``get_opt_params_bounds``, ``opt_param_chain``).
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from workbench.errors import ModelError, ParameterError
from workbench.models import ownership
from workbench.models.parameter import Parameter, _check_space, as_number
from workbench.models.transform import ParameterTransform

_RULE = "#" + "=" * 80 + "\n"
_UNBOUNDED = ("none", "inf", "+inf", "-inf", "infinity", "-infinity")


@dataclass
class ModelState:
    """Per-data-set state built by :meth:`Model.prepare` (packed batch and the configs).

    ``cutoff`` is the neighbor-list cutoff the batch was built with; ``extra`` is free for
    subclasses (e.g. KIM compute arguments).
    """

    configs: list
    batch: Any = None
    cutoff: float | None = None
    extra: dict = field(default_factory=dict)


class Model:
    """Base of all physics-based models (KLIFF semantics for parameters).

    Subclasses provide ``init_model_params()`` (an ordered name -> Parameter mapping, or
    name -> values) and implement :meth:`compute`; they usually also override
    ``get_influence_distance`` and ``get_supported_species``.

    Args:
        model_name: name shown by the echo methods (class name when None).
        params_transform: a ParameterTransform whose ``param_names`` are put in its space
            (e.g. ``LogParameterTransform(["A", "B"])``).  Single parameters can be switched
            later with :meth:`set_param_transform`.
    """

    def __init__(self, model_name: str | None = None,
                 params_transform: ParameterTransform | None = None):
        self.model_name = model_name
        self.params_transform = params_transform
        self.model_params: OrderedDict[str, Parameter] = OrderedDict()
        for i, (name, p) in enumerate(dict(self.init_model_params()).items()):
            if not isinstance(p, Parameter):
                p = Parameter(p, name=name)
            p._name, p._index = name, i
            self.model_params[name] = p
        self._opt_names: list[str] = []
        self.params_version = 0
        if params_transform is not None:
            for name in params_transform.param_names:
                self._param(name).set_transform(params_transform.for_names([name]))

    # to be provided by subclasses ------------------------------------------------------
    def init_model_params(self) -> dict:
        """The model's parameters at construction: an ordered ``{name: Parameter}``.

        Subclasses define it; values are in the model's units (eV and Å for the built-in
        potentials). Raises NotImplementedError on the abstract base."""
        raise NotImplementedError(f"{type(self).__name__} does not define init_model_params().")

    def compute(self, state: ModelState, forces: bool = True, stress: bool = False,
                jacobian: bool = False, columns=None):
        """Evaluate the prepared data set; returns an ``EngineResult``.

        Jacobian columns are flat-parameter components (original space); ``columns``
        (indices into the flat vector) restricts them.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement compute().")

    def get_influence_distance(self) -> float:
        """How far (Å) an atom's environment reaches: the neighbor-list cutoff the engine
        uses (for three-body models the largest pair cutoff). Raises ModelError when the
        model defines none."""
        dist = getattr(self, "influence_distance", None)
        if dist is None:
            raise ModelError(f"{type(self).__name__} does not define an influence distance.")
        return float(dist)

    def get_supported_species(self) -> dict[str, int]:
        """Chemical symbol -> integer code (KLIFF's form)."""
        return {s: i for i, s in enumerate(getattr(self, "species", ()))}

    def cutoff_param_names(self) -> tuple[str, ...]:
        """Parameters that change the neighbor lists when changed."""
        return ()

    def function_curves(self) -> list[dict]:
        """Curves that show the model's functions (e.g. EAM's phi(r), rho(r), F(rho)),
        each a dict with ``name``, ``group``, ``x``, ``y``, ``x_label``, ``y_label``;
        the UI draws them live during a fit.  None by default."""
        return []

    # data-set state ------------------------------------------------------------------
    def start_compiling(self) -> bool:
        """Start compiling this model's kernels in the background, if it has any that are
        not compiled yet (see ``workbench.engine.precompile``); True when that began.
        Called as soon as the model is known, before the data are read."""
        return False

    def prepare(self, configs) -> ModelState:
        """Pack ``configs`` once (neighbor lists at the current influence distance)."""
        configs = list(configs)
        state = ModelState(configs=configs)
        self.refresh_state(state)
        return state

    def refresh_state(self, state: ModelState) -> ModelState:
        """Rebuild the packed batch when the influence distance differs from its cutoff."""
        cutoff = self.get_influence_distance()
        if state.batch is None or state.cutoff != cutoff:
            from workbench.engine.batch import get_batch

            species = list(self.get_supported_species())
            state.batch = get_batch(state.configs, cutoff=cutoff, species_names=species)
            state.cutoff = cutoff
        return state

    # parameter access ------------------------------------------------------------------
    def get_model_params(self) -> OrderedDict:
        """The live ``{name: Parameter}`` mapping (values in the original space and the
        model's units); edit parameters through ``set_opt_params``/``set_params`` so that
        checks and transforms apply."""
        return self.model_params

    def get_params_dict(self, space: str = "original") -> dict[str, np.ndarray]:
        """name -> copy of the values, in the given space."""
        return {n: p.get_value(space) for n, p in self.model_params.items()}

    def flat_offsets(self) -> dict[str, int]:
        """Offset of each parameter in the flat (concatenated, model order) vector."""
        out, k = {}, 0
        for n, p in self.model_params.items():
            out[n] = k
            k += len(p)
        return out

    def flat_param_names(self) -> list[str]:
        """One name per parameter component, ``"A"`` for a scalar and ``"A[k]"`` for
        component k of a vector parameter, in the order of ``get_params_dict``."""
        return [n if len(p) == 1 else f"{n}[{c}]"
                for n, p in self.model_params.items() for c in range(len(p))]

    def set_param_value(self, name: str, values, space: str = "original") -> None:
        """Set all components of one parameter (no bounds check: fixes stay possible).
        All components change or none (a NaN, inf or out-of-domain value is refused)."""
        self._check_mutable(f"set parameter '{name}'")
        p = self._param(name)
        with self._transaction([name]):
            p.set_value(values, space)
        self._params_changed([name])

    def _param(self, name: str) -> Parameter:
        p = self.model_params.get(name)
        if p is None:
            raise ParameterError(
                f"'{name}' is not a parameter of model {self._display_name()}; "
                f"its parameters are {list(self.model_params)}.")
        return p

    def _check_mutable(self, what: str) -> None:
        """Refuse the change ``what`` when a running fit (another thread) owns the model."""
        ownership.check_mutable(self, what)

    @contextlib.contextmanager
    def _transaction(self, names):
        """All-or-nothing changes of the parameters ``names`` and the optimized list: on
        any exception their state before the block is put back."""
        backup = {n: copy.deepcopy(self.model_params[n].__dict__) for n in names}
        opt_names = list(self._opt_names)
        try:
            yield
        except BaseException:
            for n, state in backup.items():
                self._restore(n, state)
            self._opt_names = opt_names
            raise

    def _params_changed(self, names) -> None:
        """Called after values change; subclasses may refresh derived quantities."""
        self.params_version += 1

    def _display_name(self) -> str:
        return self.model_name if self.model_name is not None else type(self).__name__

    # echo ------------------------------------------------------------------------------
    def echo_model_params(self, filename=sys.stdout, params_space: str = "original") -> str:
        """All parameters as text (KLIFF's layout); written to ``filename`` (a path or an
        open stream, None = only return the text)."""
        _check_space(params_space)
        s = _RULE + "# Available parameters to optimize.\n"
        s += f"# Parameters in `{params_space}` space.\n"
        s += f"# Model: {self._display_name()}\n" + _RULE + "\n"
        for name, p in self.model_params.items():
            value = p.value if params_space == "original" else p.transformed_value
            s += f"name: {name}\nvalue: {np.asarray(value)}\nsize: {len(p)}\n\n"
        _emit(s, filename)
        return s

    def echo_opt_params(self, filename=sys.stdout) -> str:
        """The optimized parameters (transformed space) with fix flags and bounds."""
        s = _RULE + "# Model parameters that are optimized.\n"
        s += "# Note that the parameters are in the transformed space if \n"
        s += "# `params_transform` is provided when instantiating the model.\n" + _RULE + "\n"
        for name in self._opt_names:
            p = self.model_params[name]
            s += f"{name} {len(p)}\n"
            for i, (lo, hi) in enumerate(p.get_bounds("transformed")):
                s += f"{p.transformed_value[i]:24.16e} "
                if p.fixed[i]:
                    s += "fix "
                if lo is not None or hi is not None:
                    s += ("None " if lo is None else f"{lo:24.16e} ")
                    s += ("None " if hi is None else f"{hi:24.16e} ")
                s += "\n"
            s += "\n"
        _emit(s, filename)
        return s

    # choosing what to optimize -----------------------------------------------------
    def set_opt_params(self, **kwargs) -> None:
        """``name=[[...], ...]``: one inner list per component with 1, 2 or 3 items
        (value or "default"; value, "fix"; value, lower, upper), transformed space.
        All parameters change or none (the first invalid setting raises)."""
        self._check_mutable("set_opt_params")
        for name in kwargs:
            self._param(name)
        self._set_many([(name, settings, None) for name, settings in kwargs.items()])

    def _set_many(self, items) -> None:
        """``[(name, settings, where)]`` applied all-or-nothing."""
        names = [name for name, _, _ in items]
        try:
            with self._transaction(names):
                for name, settings, where in items:
                    self.set_one_opt_param(name, settings, _where=where)
        except BaseException:
            self._params_changed(names)
            raise

    def set_one_opt_param(self, name: str, settings, _where: Sequence[str] | None = None) -> None:
        """Settings of one parameter; nothing changes if any component is invalid."""
        self._check_mutable(f"set parameter '{name}'")
        p = self._param(name)
        if isinstance(settings, (str, bytes)) or not isinstance(settings, (Sequence, np.ndarray)):
            raise ParameterError(f"Parameter '{name}': settings must be a list with one list per component.")
        if len(settings) != len(p):
            raise ParameterError(
                f"Parameter '{name}' has {len(p)} component(s), got settings for {len(settings)}.")
        new = [_parse_line(name, j, line, p, _where and _where[j]) for j, line in enumerate(settings)]
        for j, (value, fixed, lo, hi) in enumerate(new):
            where = f" ({_where[j]})" if _where else ""
            if lo is not None and hi is not None and lo > hi:
                raise ParameterError(
                    f"Parameter '{name}' component {j}{where}: lower bound {lo!r} is greater than "
                    f"upper bound {hi!r}.")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ParameterError(
                    f"Parameter '{name}' component {j}{where}: initial value {value!r} is outside "
                    f"its bounds [{lo}, {hi}].")
        with self._transaction([name]):
            for j, (value, fixed, lo, hi) in enumerate(new):
                p.set_component(j, value, "transformed")
                p.set_bounds(j, lo, hi, "transformed")
                p.set_fixed(j, fixed)
            if name not in self._opt_names:
                self._opt_names.append(name)
        self._params_changed([name])

    def read_opt_params(self, path) -> None:
        """Read settings from a KLIFF-format file: a parameter name on its own line, then
        one line per component (``DEFAULT``/number, ``FIX``, bounds or ``INF``; any case;
        ``#`` starts a comment).  The whole file applies or nothing does."""
        self._check_mutable("read_opt_params")
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ParameterError(f"Cannot read optimizing-parameter file {path}: {exc}") from exc
        lines = []
        for k, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if line:
                lines.append((k, line))
        pos, parsed = 0, []
        while pos < len(lines):
            k, name = lines[pos]
            pos += 1
            if name not in self.model_params:
                raise ParameterError(
                    f"{path}, line {k}: '{name}' is not a parameter of model "
                    f"{self._display_name()}; its parameters are {list(self.model_params)}.")
            size = len(self.model_params[name])
            block = lines[pos:pos + size]
            if len(block) < size:
                raise ParameterError(
                    f"{path}, line {k}: parameter '{name}' needs {size} component line(s), "
                    f"the file ends after {len(block)}.")
            pos += size
            parsed.append((name, [ln.split() for _, ln in block],
                           [f"{path}, line {kk}" for kk, _ in block]))
        self._set_many(parsed)

    # UI conveniences ---------------------------------------------------------------
    def set_fixed(self, name: str, component: int, fixed: bool = True) -> None:
        """Fix or free one component.  Freeing a component of a parameter that is not yet
        optimized adds the parameter with only that component free."""
        self._check_mutable(f"fix or free parameter '{name}'")
        p = self._param(name)
        p._check_component(component)
        if name not in self._opt_names:
            if fixed:
                p.set_fixed(component, True)
                return
            for c in range(len(p)):
                p.set_fixed(c, True)
            self._opt_names.append(name)
        p.set_fixed(component, fixed)
        self._params_changed([])

    def set_bounds(self, name: str, component: int, lower, upper, space: str = "transformed") -> None:
        """Bounds of one component (None or "inf" = unbounded); the value must lie inside."""
        self._check_mutable(f"set bounds of parameter '{name}'")
        p = self._param(name)
        p._check_component(component)
        lo = _parse_bound(lower, name, component, None)
        hi = _parse_bound(upper, name, component, None)
        backup = copy.deepcopy(p.__dict__)
        try:
            p.set_bounds(component, lo, hi, space)
            p.check_in_bounds(space)
        except ParameterError:
            self._restore(name, backup)
            raise

    def set_param_transform(self, name: str, transform) -> None:
        """Put parameter ``name`` in log space ("log"), another transform, or back (None).

        The original-space value and bounds are kept exactly; ``x`` changes accordingly.
        """
        self._check_mutable(f"change the transform of parameter '{name}'")
        self._param(name).set_transform(transform)
        self._params_changed([name])

    def _restore(self, name: str, backup: dict) -> None:
        self.model_params[name].__dict__.update(backup)

    # the optimization vector x -----------------------------------------------------
    def _opt_index(self) -> list[tuple[str, int]]:
        return [(n, c) for n in self._opt_names
                for c in range(len(self.model_params[n])) if not self.model_params[n].fixed[c]]

    def get_opt_param_names(self) -> list[str]:
        """Labels of the components of ``x`` ("A" or "A[1]")."""
        return [n if len(self.model_params[n]) == 1 else f"{n}[{c}]" for n, c in self._opt_index()]

    def get_num_opt_params(self) -> int:
        """Number of free (optimized) parameter components, the length of
        ``get_opt_params()``."""
        return len(self._opt_index())

    def get_opt_params(self) -> np.ndarray:
        """``x``: the free components in the transformed space."""
        index = self._opt_index()
        if not index:
            raise ParameterError("No parameters specified to optimize; use set_opt_params().")
        return np.array([self.model_params[n].transformed_value[c] for n, c in index])

    def update_model_params(self, x) -> None:
        """Inverse of get_opt_params: take ``x`` (transformed space) into the model.

        Every component is checked before anything changes: a NaN/inf component or one
        outside its transform's domain raises ParameterError and leaves the model as it
        was (an optimizer sees that as a failed step, see ``workbench.fit.optimizers``)."""
        self._check_mutable("update the optimized parameters")
        index = self._opt_index()
        x = np.asarray(x, dtype=float).ravel()
        if x.shape[0] != len(index):
            raise ParameterError(f"Expected {len(index)} optimizing parameter value(s), got {x.shape[0]}.")
        new = [self.model_params[n].convert(c, v, "transformed") for (n, c), v in zip(index, x)]
        for (n, c), (orig, tv) in zip(index, new):
            p = self.model_params[n]
            p._value[c], p._tvalue[c] = orig, tv
        self._params_changed(sorted({n for n, _ in index}))

    def get_opt_params_bounds(self) -> list[tuple]:
        """``(lower, upper)`` per component of ``x``, transformed space, None = unbounded."""
        return [self.model_params[n].get_bounds("transformed")[c] for n, c in self._opt_index()]

    def has_opt_params_bounds(self) -> bool:
        """Whether any free component has a lower or upper bound (the optimizer then
        needs a method that supports bounds, e.g. L-BFGS-B or trf)."""
        return any(lo is not None or hi is not None for lo, hi in self.get_opt_params_bounds())

    def get_opt_param_name_value_and_indices(self, k: int) -> tuple[str, float, int, int]:
        """(name, transformed value, parameter index, component index) of ``x[k]``."""
        index = self._opt_index()
        if not 0 <= k < len(index):
            raise ParameterError(f"No optimizing parameter at slot {k}; there are {len(index)}.")
        n, c = index[k]
        p = self.model_params[n]
        return n, float(p.transformed_value[c]), p.index, c

    def opt_param_chain(self) -> tuple[np.ndarray, np.ndarray]:
        """``(flat_indices, d_original_d_x)`` with ``J_x = J_full[..., flat_indices] * d``."""
        offsets = self.flat_offsets()
        index = self._opt_index()
        flat = np.array([offsets[n] + c for n, c in index], dtype=np.int64)
        deriv = np.array([self.model_params[n].inverse_derivative()[c] for n, c in index], dtype=float)
        return flat, deriv

    # persistence -------------------------------------------------------------------
    def init_kwargs(self) -> dict:
        """Constructor arguments that rebuild this model (YAML-serializable)."""
        return {"model_name": self.model_name}

    def save(self, path="trained_model.yaml") -> Path:
        """Write values, fixed flags, bounds and transforms to YAML, atomically."""
        from workbench.models.io import save_model

        return save_model(self, path)

    @classmethod
    def _load_new(cls, path):
        """A new model of this class built from a YAML file written by ``save``.

        Raises ModelError naming the file when it holds another model type, and
        ModelError/ConfigFileError for an unreadable or invalid file."""
        from workbench.models.io import load_model

        model = load_model(path)
        if not isinstance(model, cls):
            raise ModelError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def write_kim_model(self, path=None, overwrite: bool = False):
        """Write this model as an OpenKIM portable model directory (see kim_export); an
        existing directory is replaced only if the workbench wrote it and ``overwrite``."""
        try:
            from workbench.models.kim_export import write_kim_model
        except ImportError as exc:
            raise ModelError(f"Writing KIM models is not available: {exc}") from exc
        return write_kim_model(self, path, overwrite)

    def ase_calculator(self, skin: float = 0.5):
        """An ASE calculator evaluating this model (see ``models/ase_calculator.py``)."""
        from workbench.models.ase_calculator import ase_calculator

        return ase_calculator(self, skin=skin)

    def __repr__(self):
        return f"{type(self).__name__}(model_name={self.model_name!r})"


class _LoadMethod:
    """``model.load(path)`` loads into the instance; ``Cls.load(path)`` builds a new one."""

    def __get__(self, obj, cls):
        if obj is None:
            return cls._load_new

        def load(path="trained_model.yaml"):
            """Load parameters from a YAML file written by ``save`` into this model.

            Raises ModelError or ConfigFileError naming the file for an unreadable file,
            a file written for another model type or species, or invalid values."""
            from workbench.models.io import load_into

            return load_into(obj, path)

        return load


Model.load = _LoadMethod()


#: the sys.stdout that the echo methods' default arguments captured at import; text for
#: it goes to the sys.stdout of the moment instead (a redirection, a notebook cell,
#: pytest's capsys), as a user expects from "print to the screen"
_IMPORT_STDOUT = sys.stdout


def _emit(text: str, filename) -> None:
    if filename is None:
        return
    if filename is _IMPORT_STDOUT:
        filename = sys.stdout
    if isinstance(filename, (str, Path)):
        Path(filename).write_text(text)
    else:
        print(text, file=filename)


def _is_word(x, word: str) -> bool:
    return isinstance(x, str) and x.strip().lower() == word


def _parse_bound(b, name, j, where):
    if b is None or (isinstance(b, str) and b.strip().lower() in _UNBOUNDED):
        return None
    v = as_number(b, f"bound of component {j}" + (f" ({where})" if where else ""), name,
                  allow_inf=True)
    return None if np.isinf(v) else v


def _parse_line(name: str, j: int, line, p: Parameter, where):
    """One component's settings -> (transformed value, fixed, lower, upper)."""
    at = f" ({where})" if where else ""
    if isinstance(line, (str, bytes)) or not isinstance(line, (Sequence, np.ndarray)):
        line = [line]
    line = list(line)
    if not 1 <= len(line) <= 3:
        raise ParameterError(
            f"Parameter '{name}' component {j}{at}: expected 1, 2 or 3 items "
            f"(value; value 'fix'; value lower upper), got {len(line)}: {line!r}.")
    first = line[0]
    if _is_word(first, "default"):
        value = float(p.transformed_value[j])
    else:
        value = as_number(first, f"initial value of component {j}{at}", name)
    fixed, lo, hi = False, None, None
    if len(line) == 2:
        if not _is_word(line[1], "fix"):
            raise ParameterError(
                f"Parameter '{name}' component {j}{at}: the second of two items must be 'fix', "
                f"got {line[1]!r}.")
        fixed = True
    elif len(line) == 3:
        lo = _parse_bound(line[1], name, j, where)
        hi = _parse_bound(line[2], name, j, where)
    return value, fixed, lo, hi
