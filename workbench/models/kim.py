"""KIMModel: any installed OpenKIM portable model, evaluated through kimpy and kim-api.

Parameters are the model's own kim-api parameters (names, extents and descriptions from
``get_parameter_metadata``), wrapped in :class:`~workbench.models.parameter.Parameter` so
that fixing, bounds and transforms follow the same KLIFF semantics as the built-in models.
Changing a value pushes it into kim-api (``set_parameter`` + ``clear_then_refresh``).

``prepare(configs)`` builds, once per configuration, the kim-api compute arguments, the
padding atoms of periodic cells (``kimpy.neighlist.create_paddings``) and a kimpy
neighbor list.  They are reused by every ``compute`` call and rebuilt only when the
model's influence distance or neighbor-list cutoffs change (e.g. a fitted cutoff).

Stress is the strain derivative of the energy divided by the cell volume, Voigt order
xx yy zz yz xz xy -- kim-api's ``partialVirial`` / volume when the model provides it,
otherwise the virial of the forces on all (contributing and padding) particles.

**Twins.** When the model's driver has a numba twin in the engine (SW, Tersoff_LAMMPS,
LennardJones612, LJ_Shifted, LJ_Truncated, Morse_Shifted; see
:mod:`workbench.models.kim_twin`), the model is
evaluated there instead, with exact parameter Jacobians and the engine's one-pass
gradient.  Parameters, their names and what is pushed into kim-api stay the same (so
``write_kim_model`` and the ASE calculator still go through kim-api).  At creation the
twin is checked against kim-api (energies and forces of a few rattled configurations of
the model's species, relative 1e-10); if they differ, or the twin cannot take the
values, the model warns and runs on kim-api.  ``engine="kim"`` forces kim-api,
``engine="twin"`` requires the twin (KIMError otherwise); ``model.engine`` says which
one runs.

On kim-api the parameter Jacobian is **not exact**: kim-api has no parameter
derivatives, so ``compute(..., jacobian=True)`` differentiates by central finite
differences, two full evaluations per requested flat-parameter column, with step
``max(1e-8, 1e-6 |value|)`` (relative accuracy ~1e-9 for smooth models).  Pass
``columns`` to restrict the work to the parameters being fitted.  Integer parameters
(e.g. Tersoff's ``m``) get zero columns.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np

from ..engine.spec import EngineResult
from ..engine.threads import num_threads, parallel_ranges, split
from ..errors import KIMError
from .kim_collections import HOW_TO_INSTALL, is_installed
from .kim_twin import (TWIN_RTOL, TwinEvaluator, check_configurations, deviation,
                       pick_species, twin_for)
from .model import Model, ModelState
from .parameter import Parameter

#: kim-api instances (configuration groups) per engine thread: threads that finish
#: their group early take another, so uneven configurations still share the cores
GROUPS_PER_THREAD = 4
FD_REL_STEP = 1e-6
FD_ABS_STEP = 1e-8


def _kimpy():
    from workbench.models.kim_collections import _kimpy as import_kimpy

    return import_kimpy("KIMModel")


def create_kim_model(model_name: str):
    """A kimpy Model in metal-like units (Angstrom, eV); KIMError if not installed."""
    kimpy = _kimpy()
    if not is_installed(model_name):
        raise KIMError(f"KIM portable model {model_name!r} is not installed. "
                       f"{HOW_TO_INSTALL}")
    try:
        accepted, model = kimpy.model.create(
            kimpy.numbering.zeroBased, kimpy.length_unit.A, kimpy.energy_unit.eV,
            kimpy.charge_unit.e, kimpy.temperature_unit.K, kimpy.time_unit.ps,
            model_name)
    except RuntimeError as exc:
        raise KIMError(f"kim-api could not create model {model_name!r} (see kim.log). "
                       f"{HOW_TO_INSTALL}") from exc
    if not accepted:
        raise KIMError(f"KIM model {model_name!r} does not accept Angstrom/eV units")
    return model


class _KIMConfig:
    """kim-api compute arguments, padding atoms and neighbor list of one configuration."""

    def __init__(self, kim_model, config, species_codes: dict, index: int):
        kimpy = _kimpy()
        self.kim_model = kim_model
        self.config = config
        self.n = len(config.species)
        try:
            codes = [species_codes[s] for s in config.species]
        except KeyError as exc:
            name = config.identifier or f"#{index}"
            raise KIMError(f"configuration {name}: species {exc.args[0]!r} is not "
                           f"supported by the KIM model (supports "
                           f"{sorted(species_codes)})") from None
        self.species = np.asarray(codes, dtype=np.intc)
        self.pbc = np.asarray(config.PBC, dtype=np.intc)
        self.cell = np.ascontiguousarray(config.cell, dtype=np.double)
        self.periodic = bool(self.pbc.all())
        self.volume = abs(float(np.linalg.det(self.cell))) if self.periodic else np.nan
        self.ca = kim_model.compute_arguments_create()
        self.neigh = kimpy.neighlist.create()
        self.ca.set_callback_pointer(kimpy.compute_callback_name.GetNeighborList,
                                     kimpy.neighlist.get_neigh_kim(), self.neigh)
        can = kimpy.compute_argument_name
        status = kimpy.support_status
        self.has_virial = self.ca.get_argument_support_status(can.partialVirial) in (
            status.required, status.optional)
        self.energy = np.zeros(1, dtype=np.double)
        self.virial = np.zeros(6, dtype=np.double)
        self.key = None

    def build(self, influence: float, cutoffs: np.ndarray, hints: np.ndarray) -> None:
        """(Re)create padding atoms and the neighbor list; register the arrays."""
        kimpy = _kimpy()
        coords = np.ascontiguousarray(self.config.coords, dtype=np.double)
        if self.pbc.any():
            pad_coords, pad_species, self.image = kimpy.neighlist.create_paddings(
                influence, self.cell, self.pbc, coords, self.species)
            pad_coords = np.asarray(pad_coords, dtype=np.double).reshape(-1, 3)
            self.coords = np.ascontiguousarray(np.concatenate([coords, pad_coords]))
            self.codes = np.concatenate([self.species, np.asarray(pad_species, np.intc)])
            self.image = np.asarray(self.image, dtype=np.intp)
        else:
            self.coords = coords.copy()
            self.codes = self.species.copy()
            self.image = np.zeros(0, dtype=np.intp)
        total = self.coords.shape[0]
        self.num = np.array([total], dtype=np.intc)
        self.contributing = np.zeros(total, dtype=np.intc)
        self.contributing[:self.n] = 1
        need = self.contributing if np.all(hints) else np.ones(total, dtype=np.intc)
        self.neigh.build(self.coords, float(influence),
                         np.ascontiguousarray(cutoffs, dtype=np.double), need)
        self.forces = np.zeros((total, 3), dtype=np.double)
        can = kimpy.compute_argument_name
        self.ca.set_argument_pointer(can.numberOfParticles, self.num)
        self.ca.set_argument_pointer(can.particleSpeciesCodes, self.codes)
        self.ca.set_argument_pointer(can.particleContributing, self.contributing)
        self.ca.set_argument_pointer(can.coordinates, self.coords)
        self.ca.set_argument_pointer(can.partialEnergy, self.energy)
        self._want = None
        self.bound = False  # evaluates into its own arrays until bound to a state's
        self.key = (float(influence), tuple(np.asarray(cutoffs, float)))

    def bind(self, energy: np.ndarray, forces: np.ndarray) -> None:
        """Have kim-api write the energy and (padded) forces into ``energy`` (1,) and
        ``forces`` (total, 3): views of arrays shared by all configurations of a state,
        so an evaluation of the whole set allocates nothing per configuration."""
        can = _kimpy().compute_argument_name
        self.energy, self.forces = energy, forces
        self.ca.set_argument_pointer(can.partialEnergy, self.energy)
        self._want = None
        self.bound = True

    def set_outputs(self, forces: bool, stress: bool) -> None:
        """Register (or clear) the force and virial arrays for the next Compute."""
        want = (forces or (stress and not self.has_virial), stress and self.has_virial)
        if want != self._want:
            can = _kimpy().compute_argument_name
            if want[0]:
                self.ca.set_argument_pointer(can.partialForces, self.forces)
            else:
                self.ca.set_argument_null_pointer(can.partialForces)
            if self.has_virial:
                if want[1]:
                    self.ca.set_argument_pointer(can.partialVirial, self.virial)
                else:
                    self.ca.set_argument_null_pointer(can.partialVirial)
            self._want = want

    def failed(self, exc) -> KIMError:
        return KIMError(f"kim-api compute failed for configuration "
                        f"{self.config.identifier or '?'} (see kim.log)")

    def stress(self) -> np.ndarray:
        """Stress (Voigt) of the last Compute, NaN when the cell is not periodic."""
        if not self.periodic:
            return np.full(6, np.nan)
        if self.has_virial:
            return self.virial / self.volume
        w = -np.einsum("ni,nj->ij", self.coords, self.forces)
        return w[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]] / self.volume

    def compute(self, kim_model=None, forces: bool = True, stress: bool = False):
        """Energy, forces, stress of this configuration on the kim-api instance that
        created its compute arguments (``kim_model``, if given, must be that one)."""
        self.set_outputs(forces, stress)
        try:
            # without the GIL: other threads evaluate their configurations meanwhile
            self.kim_model.compute(self.ca, True)
        except RuntimeError as exc:
            raise self.failed(exc) from exc
        f = None
        if forces:
            f = self.forces[:self.n].copy()
            if self.image.size:
                np.add.at(f, self.image, self.forces[self.n:])
        return float(self.energy[0]), f, self.stress() if stress else None


class _SharedOutputs:
    """Energy (C,) and padded forces (sum of padded sizes, 3) of all configurations of a
    state, with the owning atom (global index) of every padded row: the threads' loop
    then only calls kim-api, and the padding forces fold back in one vectorized pass."""

    def __init__(self, kcs):
        sizes = [kc.coords.shape[0] for kc in kcs]
        starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self.energy = np.zeros(len(kcs))
        self.forces = np.zeros((int(starts[-1]), 3))
        owners, first = [], 0
        for k, kc in enumerate(kcs):
            kc.bind(self.energy[k:k + 1], self.forces[starts[k]:starts[k + 1]])
            owners.append(first + np.arange(kc.n, dtype=np.int64))
            owners.append(first + np.asarray(kc.image, dtype=np.int64))
            first += kc.n
        self.natoms = first
        self.owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)

    def folded_forces(self) -> np.ndarray:
        """(N, 3) forces: each atom's own plus those of its padding images, summed in
        the padded order (the numbers of ``np.add.at`` on each configuration)."""
        f = np.empty((self.natoms, 3))
        for a in range(3):
            f[:, a] = np.bincount(self.owner, weights=self.forces[:, a],
                                  minlength=self.natoms)
        return f


class KIMModel(Model):
    """An installed OpenKIM portable model (KLIFF's ``KIMModel``).

    Args:
        model_name: e.g. ``"SW_StillingerWeber_1985_Si__MO_405512056662_005"``.
            ``workbench model --list`` or ``kim-api-collections-management list`` shows
            the installed ones.
        params_transform: optional ParameterTransform (e.g. LogParameterTransform).
        engine: ``"auto"`` (the numba twin of the driver when there is one and it
            passes the creation check, else kim-api), ``"kim"`` (always kim-api) or
            ``"twin"`` (the twin or a KIMError).

    See the module docstring for how energies, forces, stress and the Jacobian are
    computed.
    """

    ENGINES = ("auto", "kim", "twin")

    def __init__(self, model_name: str, params_transform=None, engine: str = "auto"):
        if engine not in self.ENGINES:
            raise KIMError(f"KIMModel engine must be one of {self.ENGINES}, got {engine!r}")
        kimpy = _kimpy()
        self.kim_model = create_kim_model(model_name)
        self.mutable = bool(self.kim_model.is_routine_present(
            kimpy.model_routine_name.Refresh)[0])
        self._meta = []
        for i in range(self.kim_model.get_number_of_parameters()):
            dtype, extent, name, description = self.kim_model.get_parameter_metadata(i)
            self._meta.append((name, str(dtype) != "Double", int(extent), description))
        self._species = self._query_species()
        self.influence_distance = float(self.kim_model.get_influence_distance())
        self._pushed: dict[str, np.ndarray] = {}
        # further kim-api instances of the model, one per extra engine thread: a model
        # driver's Compute is not reentrant (concurrent calls on one instance crash), so
        # each thread evaluates its configurations on its own instance
        self._clones: list = []
        super().__init__(model_name, params_transform)
        self.requested_engine = engine
        #: "twin" or "kim": which one evaluates this model
        self.engine = "kim"
        #: (energy, forces) relative deviation twin vs kim-api found at creation
        self.twin_deviation = None
        self._twin = None
        if engine != "kim":
            self._select_twin(engine == "twin")

    # -- parameters ---------------------------------------------------------------------
    def init_model_params(self) -> OrderedDict:
        """Read the KIM model's parameters through kimpy into Parameter objects
        (names and values as the model publishes them, all fixed until set_opt_params)."""
        params = OrderedDict()
        for i, (name, is_int, extent, description) in enumerate(self._meta):
            values = self._kim_values(i)
            self._pushed[name] = values.copy()
            params[name] = Parameter(values, name=name, index=i, description=description)
        return params

    def _kim_values(self, i: int) -> np.ndarray:
        name, is_int, extent, _ = self._meta[i]
        get = self.kim_model.get_parameter_int if is_int else self.kim_model.get_parameter_double
        return np.array([float(get(i, j)) for j in range(extent)])

    def get_kim_parameter_metadata(self) -> list[dict]:
        """Name, size, data type and description of every kim-api parameter."""
        return [{"name": n, "size": e, "dtype": "int" if t else "double", "description": d}
                for n, t, e, d in self._meta]

    def _push(self, i: int, j: int, value: float) -> None:
        name, is_int, _, _ = self._meta[i]
        try:
            for m in self._instances():
                m.set_parameter(i, j, int(round(value)) if is_int else float(value))
        except RuntimeError as exc:
            raise KIMError(f"kim-api refused value {value!r} for parameter '{name}' "
                           f"component {j} of {self.model_name}") from exc

    def _refresh(self) -> None:
        try:
            for m in self._instances():
                m.clear_then_refresh()
        except RuntimeError as exc:
            raise KIMError(f"kim-api could not refresh {self.model_name} after a "
                           "parameter change; the values may be out of range "
                           "(see kim.log)") from exc
        self.influence_distance = float(self.kim_model.get_influence_distance())

    def _sync(self, names=None) -> None:
        """Push every component that differs from what kim-api holds."""
        changed = []
        for i, (name, _, _, _) in enumerate(self._meta):
            if names is not None and name not in names:
                continue
            new = self.model_params[name].value
            old = self._pushed[name]
            diff = np.flatnonzero(new != old)
            if diff.size:
                changed.append((i, name, diff))
        if not changed:
            return
        if not self.mutable:
            for _, name, _ in changed:
                self.model_params[name].set_value(self._pushed[name])
            raise KIMError(
                f"the parameters of KIM model {self.model_name} cannot be changed: the "
                "model has no kim-api Refresh routine (it is not a parameterized model "
                f"with mutable parameters). Tried to change {[c[1] for c in changed]}.")
        for i, name, diff in changed:
            new = self.model_params[name].value
            for j in diff:
                self._push(i, int(j), new[j])
            self._pushed[name] = np.array(new, dtype=float)
        self._refresh()

    def _param(self, name: str) -> Parameter:
        if not self.model_params:
            raise KIMError(
                f"KIM model {self.model_name} publishes no parameters through kim-api "
                f"(it is not a parameterized model), so '{name}' cannot be set or fitted; "
                "choose a model of a parameterized driver (e.g. SW_..., Tersoff_..., "
                f"LennardJones612_...). {HOW_TO_INSTALL}")
        return super()._param(name)

    def _params_changed(self, names) -> None:
        super()._params_changed(names)
        if names:
            self._sync(set(names))

    # -- species / cutoffs -------------------------------------------------------------
    def _query_species(self) -> dict[str, int]:
        kimpy = _kimpy()
        out = {}
        for i in range(kimpy.species_name.get_number_of_species_names()):
            sp = kimpy.species_name.get_species_name(i)
            supported, code = self.kim_model.get_species_support_and_code(sp)
            if supported:
                out[str(sp)] = int(code)
        return dict(sorted(out.items(), key=lambda kv: kv[1]))

    def get_supported_species(self) -> dict[str, int]:
        return dict(self._species)

    def get_influence_distance(self) -> float:
        """The model's influence distance in Angstrom (its largest cutoff)."""
        self._sync()
        return self.influence_distance

    def cutoff_param_names(self) -> tuple[str, ...]:
        """Parameters named like cutoffs (kim-api does not flag them).

        Only informative: the neighbor lists follow the model's actual influence distance
        whatever parameter changed it.
        """
        return tuple(n for n in self.model_params
                     if "cut" in n.lower() or n.lower() in ("rc", "dc", "rcut"))

    def driver_name(self) -> str | None:
        """The model driver this model uses (None for a stand-alone model)."""
        from .kim_collections import model_driver

        return model_driver(self.model_name)

    # -- twin ------------------------------------------------------------------------------
    def _values(self) -> dict[str, np.ndarray]:
        return {name: p.value for name, p in self.model_params.items()}

    def _select_twin(self, required: bool) -> None:
        """Use the driver's numba twin if it reproduces kim-api (module docstring)."""
        driver = self.driver_name()
        twin = twin_for(driver)
        problem = None
        if twin is None:
            problem = f"its driver {driver or '(none)'} has no numba twin"
        else:
            try:
                evaluator = TwinEvaluator(twin, self._meta, self._species)
                problem = self._check_twin(evaluator)
            except Exception as exc:  # any failure of the twin means: use kim-api
                problem = f"the twin could not evaluate it ({type(exc).__name__}: {exc})"
        if problem is None:
            self._twin, self.engine = evaluator, "twin"
            return
        if required:
            raise KIMError(f"KIM model {self.model_name} cannot run on a numba twin: "
                           f"{problem}")
        if twin is not None:
            warnings.warn(f"KIM model {self.model_name}: {problem}; it runs on kim-api "
                          "(finite-difference Jacobians)", stacklevel=3)

    def _check_twin(self, evaluator) -> str | None:
        """None when the twin reproduces kim-api on a few rattled configurations of the
        model's species (relative ``TWIN_RTOL``), else what differs."""
        values = self._values()
        subset = evaluator.species_subset(pick_species(self._species, seed=0))
        spec = evaluator.spec(values)
        cutoff = float(spec.influence_distance(evaluator.spec_params(values, subset)))
        reason = evaluator.outside(values, subset)
        if reason is not None:
            return f"{reason}"
        configs = check_configurations(subset, cutoff, seed=0)
        kim = self._kim_compute(self._kim_prepare(configs), forces=True)
        self._twin = evaluator
        try:
            twin = self._twin_compute(self._twin_prepare(configs), forces=True)
        finally:
            self._twin = None
        de, df = deviation(configs, twin, kim)
        self.twin_deviation = (de, df)
        if de <= TWIN_RTOL and df <= TWIN_RTOL:
            return None
        return (f"its numba twin ({spec.name}) differs from kim-api by {de:.1e} in energy "
                f"and {df:.1e} in forces (relative; allowed {TWIN_RTOL:.0e}) on "
                f"rattled {'/'.join(subset)} configurations")

    def _twin_prepare(self, configs) -> ModelState:
        state = ModelState(configs=configs)
        present = set()
        for k, conf in enumerate(configs):
            bad = set(conf.species) - set(self._species)
            if bad:
                name = conf.identifier or f"#{k}"
                raise KIMError(f"configuration {name}: species {sorted(bad)[0]!r} is not "
                               f"supported by the KIM model (supports "
                               f"{sorted(self._species)})")
            present.update(conf.species)
        state.extra["twin_species"] = self._twin.species_subset(present)
        return self._twin_refresh(state)

    def _on_twin(self, state: ModelState) -> bool:
        """Whether ``state`` (a twin state) is evaluated on the twin.  Values outside
        what the twin reproduces (``DriverTwin.exact_for``) switch the model to kim-api
        for good, with a warning; the twin state then carries kim-api arguments too."""
        if self._twin is not None:
            reason = self._twin.outside(self._values(), state.extra["twin_species"])
            if reason is None:
                return True
            warnings.warn(f"KIM model {self.model_name}: with the current parameter "
                          f"values {reason}; it runs on kim-api from now on "
                          "(finite-difference Jacobians)", stacklevel=3)
            self._twin, self.engine = None, "kim"
        if "kim_state" not in state.extra:
            state.extra["kim_state"] = self._kim_prepare(state.configs)
        return False

    def _twin_refresh(self, state: ModelState) -> ModelState:
        """Repack when the twin's cutoff for the data's species changed."""
        from workbench.engine.batch import get_batch

        self._sync()
        values = self._values()
        subset = state.extra["twin_species"]
        spec = self._twin.spec(values)
        cutoff = float(spec.influence_distance(self._twin.spec_params(values, subset)))
        if state.batch is None or state.cutoff != cutoff:
            state.batch = get_batch(state.configs, cutoff=cutoff, species_names=subset)
            state.cutoff = cutoff
        return state

    def _twin_compute(self, state, forces=True, stress=False, jacobian=False,
                      columns=None) -> EngineResult:
        self._twin_refresh(state)
        return self._twin.compute(state.batch, self._values(), state.extra["twin_species"],
                                  forces, stress, jacobian, columns)

    def compute_gradient(self, state: ModelState, columns, energy_weight, energy_ref,
                         forces_weight=None, forces_ref=None):
        """One-pass ``(EngineResult, gradient)`` on the twin (see
        ``BuiltinModel.compute_gradient``); None on kim-api or without a one-pass
        gradient in the engine."""
        if "twin_species" not in state.extra or not self._on_twin(state):
            return None
        self._twin_refresh(state)
        return self._twin.gradient(state.batch, self._values(),
                                   state.extra["twin_species"], columns, energy_weight,
                                   energy_ref, forces_weight, forces_ref)

    # -- evaluation ----------------------------------------------------------------------
    def _instances(self) -> list:
        return [self.kim_model] + self._clones

    def _add_clones(self, count: int) -> None:
        """Have ``count`` extra kim-api instances holding the current parameters."""
        while len(self._clones) < count:
            clone = create_kim_model(self.model_name)
            for i, (name, is_int, _, _) in enumerate(self._meta):
                if self.mutable:
                    for j, v in enumerate(self._pushed[name]):
                        clone.set_parameter(i, j, int(round(v)) if is_int else float(v))
            if self.mutable:
                clone.clear_then_refresh()
            self._clones.append(clone)

    def prepare(self, configs) -> ModelState:
        """A packed batch on the twin; else compute arguments per configuration (below)."""
        configs = list(configs)
        if self._twin is not None:
            return self._twin_prepare(configs)
        return self._kim_prepare(configs)

    def _kim_prepare(self, configs) -> ModelState:
        """Compute arguments per configuration; the configurations are split into
        ``GROUPS_PER_THREAD`` groups per engine thread (by atoms), each on its own kim-api
        instance, which the threads take in turn (a configuration's cost is not known in
        advance: two halves of the Si set with equal atoms took 70 and 130 ms)."""
        state = ModelState(configs=configs)
        nthreads = num_threads()
        groups = split([len(c.species) for c in configs],
                       GROUPS_PER_THREAD * nthreads if nthreads > 1 else 1)
        self._add_clones(len(groups) - 2)
        instances = self._instances()
        kcs = []
        for g in range(len(groups) - 1):
            kcs += [_KIMConfig(instances[g], configs[k], self._species, k)
                    for k in range(groups[g], groups[g + 1])]
        state.extra["kim"] = kcs
        state.extra["kim_groups"] = groups
        self.refresh_state(state)
        return state

    def refresh_state(self, state: ModelState) -> ModelState:
        """Rebuild paddings and neighbor lists when the model's cutoffs changed."""
        if "twin_species" in state.extra:
            if self._on_twin(state):
                return self._twin_refresh(state)
            self.refresh_state(state.extra["kim_state"])
            return state
        self._sync()
        cutoffs, hints = self.kim_model.get_neighbor_list_cutoffs_and_hints()
        key = (self.influence_distance, tuple(np.asarray(cutoffs, float)))
        for kc in state.extra["kim"]:
            if kc.key != key:
                kc.build(self.influence_distance, cutoffs, hints)
        state.cutoff = self.influence_distance
        return state

    def _evaluate(self, state, forces: bool, stress: bool):
        kcs = state.extra["kim"]
        out = state.extra.get("kim_outputs")
        if out is None or not all(kc.bound for kc in kcs):
            out = state.extra["kim_outputs"] = _SharedOutputs(kcs)
        for kc in kcs:
            kc.set_outputs(forces, stress)

        def run(lo, hi):
            # as little Python as possible here: it holds the GIL the other threads
            # need, while kim-api's Compute releases it
            k = lo
            try:
                for k in range(lo, hi):
                    kc = kcs[k]
                    kc.kim_model.compute(kc.ca, True)
            except RuntimeError as exc:
                raise kcs[k].failed(exc) from exc

        # each group on its own kim-api instance, so no two threads share one
        groups = state.extra.get("kim_groups", [0, len(kcs)])
        parallel_ranges(run, groups, nthreads=min(num_threads(), len(groups) - 1))
        energy = out.energy.copy()
        f = out.folded_forces() if forces else None
        s = np.array([kc.stress() for kc in kcs]).reshape(-1, 6) if stress else None
        return energy, f, s

    def compute(self, state: ModelState, forces: bool = True, stress: bool = False,
                jacobian: bool = False, columns=None) -> EngineResult:
        if "twin_species" in state.extra:
            if self._on_twin(state):
                return self._twin_compute(state, forces, stress, jacobian, columns)
            state = state.extra["kim_state"]
        if "kim" not in state.extra:
            raise KIMError("this state was not prepared by a KIMModel; call "
                           "model.prepare(configs) on this model")
        return self._kim_compute(state, forces, stress, jacobian, columns)

    def _kim_compute(self, state, forces=True, stress=False, jacobian=False,
                     columns=None) -> EngineResult:
        self.refresh_state(state)
        energy, f, s = self._evaluate(state, forces, stress)
        result = EngineResult(energy=energy, forces=f, stress=s)
        if jacobian:
            self._fd_jacobian(state, result, forces, stress, columns)
        return result

    def _fd_jacobian(self, state, result, forces, stress, columns) -> None:
        """Central differences over the flat columns (see the module docstring).

        Without ``columns`` the Jacobians have one column per flat parameter component;
        with ``columns`` one per requested component, in that order (as the built-in
        models return them).
        """
        offsets = [(i, name, is_int, j)
                   for i, (name, is_int, extent, _) in enumerate(self._meta)
                   for j in range(extent)]
        nflat = len(offsets)
        cols = list(range(nflat)) if columns is None else [int(c) for c in
                                                           np.atleast_1d(columns)]
        bad = [c for c in cols if not -nflat <= c < nflat]
        if bad:
            raise KIMError(f"Jacobian columns {bad} are outside the {nflat} flat "
                           f"parameters of {self.model_name}")
        nconf, k_total = len(result.energy), len(cols)
        de = np.zeros((nconf, k_total))
        df = np.zeros(result.forces.shape + (k_total,)) if forces else None
        ds = np.zeros((nconf, 6, k_total)) if stress else None
        kcs = state.extra["kim"]
        base_keys = [kc.key for kc in kcs]
        for out, col in enumerate(cols):
            i, name, is_int, j = offsets[col]
            if is_int:
                continue
            if not self.mutable:
                raise KIMError(f"cannot differentiate parameter '{name}' of "
                               f"{self.model_name}: the model's parameters are not mutable")
            v = float(self._pushed[name][j])
            h = max(FD_ABS_STEP, FD_REL_STEP * abs(v))
            vals = []
            try:
                for step in (h, -h):
                    self._push(i, j, v + step)
                    self._refresh()
                    self._rebuild_if_needed(state)
                    vals.append(self._evaluate(state, forces, stress))
            finally:
                self._push(i, j, v)
                self._refresh()
            (ep, fp, sp), (em, fm, sm) = vals
            de[:, out] = (ep - em) / (2 * h)
            if forces:
                df[..., out] = (fp - fm) / (2 * h)
            if stress:
                ds[..., out] = (sp - sm) / (2 * h)
        if [kc.key for kc in kcs] != base_keys:
            self.refresh_state(state)
        result.d_energy, result.d_forces, result.d_stress = de, df, ds

    def _rebuild_if_needed(self, state) -> None:
        """During FD: rebuild the lists only when the perturbed model needs a larger
        influence distance (a superset list is valid for kim-api models)."""
        cutoffs, hints = self.kim_model.get_neighbor_list_cutoffs_and_hints()
        for kc in state.extra["kim"]:
            built_inf, built_cut = kc.key
            if (self.influence_distance > built_inf or len(built_cut) != len(cutoffs)
                    or np.any(np.asarray(cutoffs) > np.asarray(built_cut))):
                kc.build(self.influence_distance, cutoffs, hints)

    def init_kwargs(self) -> dict:
        kwargs = super().init_kwargs()
        if self.requested_engine != "auto":
            kwargs["engine"] = self.requested_engine
        return kwargs

    def __repr__(self):
        return f"KIMModel(model_name={self.model_name!r})"
