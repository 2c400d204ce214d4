"""Built-in models: thin :class:`Model` subclasses over the engine's PotentialSpecs.

Each model owns its species tuple (per-pair parameters follow the KIM drivers' pair order,
see ``workbench.engine.spec.species_pairs``), exposes the spec's parameters in spec order
(so the model's flat vector is the spec's flat vector and Jacobian columns line up; a
subclass may show a parameter under KLIFF's name through ``param_aliases``), and
computes through ``spec.compute`` with original-space values.  Engine modules are imported
on first use.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections import OrderedDict

import numpy as np

from workbench.errors import ModelError, ParameterError
from workbench.models.model import Model, ModelState
from workbench.models.parameter import Parameter


def load_spec(module_name: str, name: str | None = None):
    """The PotentialSpec a potential module exposes: the one called ``name`` when given,
    else ``SPEC`` or its only PotentialSpec."""
    from workbench.engine.spec import PotentialSpec

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"The engine module {module_name} is not available: {exc}") from exc
    found = [v for v in vars(module).values() if isinstance(v, PotentialSpec)]
    if name is not None:
        named = [v for v in found if v.name == name]
        if not named:
            raise ModelError(f"{module_name} has no potential named {name!r}; it has "
                             f"{sorted(v.name for v in found)}.")
        return named[0]
    spec = getattr(module, "SPEC", None)
    if isinstance(spec, PotentialSpec):
        return spec
    if len(found) != 1:
        raise ModelError(f"{module_name} does not expose exactly one PotentialSpec.")
    return found[0]


@functools.lru_cache(maxsize=None)
def _takes_columns(compute) -> bool:
    """Whether a spec's compute can restrict the Jacobian to some columns (saves work)."""
    return "columns" in inspect.signature(compute).parameters


@functools.cache
def _takes_compact(compute) -> bool:
    """Whether a spec's compute can return just the requested Jacobian columns."""
    return "compact" in inspect.signature(compute).parameters


class BuiltinModel(Model):
    """A model over one engine PotentialSpec.

    Subclasses set ``spec_module`` and ``default_name``; ``default_values`` (name ->
    scalar) overrides the spec's defaults for every species pair.
    """

    spec_module: str = ""
    #: which of the module's specs (None: its only one)
    spec_name: str | None = None
    default_name: str | None = None
    default_values: dict = {}
    #: spec parameter name -> name shown to users (KLIFF's names where they differ)
    param_aliases: dict = {}

    def __init__(self, species=("Si",), model_name: str | None = None, params_transform=None):
        if isinstance(species, str):
            species = (species,)
        species = tuple(species)
        if not species or not all(isinstance(s, str) and s for s in species):
            raise ModelError(f"{type(self).__name__}: species must be a non-empty list of "
                             f"chemical symbols, got {species!r}.")
        if len(set(species)) != len(species):
            raise ModelError(f"{type(self).__name__}: species {species!r} has duplicates.")
        self.species = species
        self.spec = load_spec(self.spec_module, self.spec_name)
        allowed = self.spec.supported_species
        if allowed and any(s not in allowed for s in species):
            raise ModelError(f"{type(self).__name__} supports species {list(allowed)}, "
                             f"got {list(species)}.")
        super().__init__(model_name or self.default_name or self.spec.name, params_transform)

    def init_model_params(self):
        """The potential's parameters with their published defaults for the model's
        species (eV, Å), one component per species or species pair as the spec lays out."""
        defaults = self.spec.default_params(self.species)
        out = OrderedDict()
        for ps in self.spec.params:
            name = self.param_aliases.get(ps.name, ps.name)
            value = defaults[ps.name]
            if name in self.default_values:
                value = np.full(len(value), float(self.default_values[name]))
            out[name] = Parameter(value, name=name, description=ps.description, unit=ps.unit)
        return out

    def spec_params(self) -> dict[str, np.ndarray]:
        """Original-space values keyed by the spec's parameter names (spec order)."""
        return {ps.name: self.model_params[self.param_aliases.get(ps.name, ps.name)].get_value()
                for ps in self.spec.params}

    def init_kwargs(self) -> dict:
        return {"species": list(self.species), "model_name": self.model_name}

    def get_influence_distance(self) -> float:
        """The largest cutoff (Å) implied by the current parameters (for SW ``a·sigma``)."""
        return float(self.spec.influence_distance(self.spec_params()))

    def get_supported_species(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.species)}

    def cutoff_param_names(self) -> tuple[str, ...]:
        return tuple(self.param_aliases.get(ps.name, ps.name) for ps in self.spec.params
                     if ps.is_cutoff)

    def start_compiling(self) -> bool:
        """On a fresh install, compile the potential's kernels in a child process
        (``engine.precompile``) while this one reads and packs the data."""
        from workbench.engine import precompile

        return precompile.start(self.spec_module)

    def prepare(self, configs):
        """Pack ``configs`` (the kernels compile meanwhile: :meth:`start_compiling`)."""
        self.start_compiling()
        return super().prepare(configs)

    def _check_columns(self, columns):
        cols = np.asarray(columns, dtype=np.int64)
        nflat = sum(len(p) for p in self.model_params.values())
        if cols.size and (cols.min() < -nflat or cols.max() >= nflat):
            raise ParameterError(f"Jacobian columns {cols.tolist()} are outside the "
                                 f"{nflat} flat parameters of {self._display_name()}.")
        return cols, nflat

    def compute(self, state: ModelState, forces: bool = True, stress: bool = False,
                jacobian: bool = False, columns=None):
        """Evaluate the prepared batch with the current original-space parameters.

        The neighbor lists are rebuilt first when a cutoff parameter moved the influence
        distance away from the batch's cutoff.
        """
        self.refresh_state(state)
        _wait_for_kernels(self.spec_module)
        extra = {}
        if jacobian and columns is not None:
            cols, nflat = self._check_columns(columns)
            if _takes_columns(self.spec.compute):
                extra["columns"] = cols % nflat
                if _takes_compact(self.spec.compute):
                    extra["compact"] = True
        res = self.spec.compute(state.batch, self.spec_params(),
                                forces=forces, stress=stress, jacobian=jacobian, **extra)
        if jacobian and columns is not None and not extra.get("compact"):
            for attr in ("d_energy", "d_forces", "d_stress"):
                arr = getattr(res, attr)
                if arr is not None:
                    setattr(res, attr, np.ascontiguousarray(arr[..., cols]))
        return res

    def compute_gradient(self, state: ModelState, columns, energy_weight, energy_ref,
                         forces_weight=None, forces_ref=None):
        """``(EngineResult with energy and forces, gradient)`` of the weighted squared
        error ``1/2 sum ew (E - E_ref)^2 + 1/2 sum fw (F - F_ref)^2`` with respect to the
        flat parameters ``columns`` (original space), in one engine pass without the
        force Jacobian; None when the potential has no such pass (then use
        :meth:`compute` with ``jacobian=True``).  Weights and references are per
        configuration (C,) and per atom (N, 3) in the prepared order; without
        ``forces_weight`` forces are not computed."""
        fn = self.spec.extra.get("gradient")
        if fn is None:
            return None
        self.refresh_state(state)
        _wait_for_kernels(self.spec_module)
        cols, nflat = self._check_columns(columns)
        return fn(state.batch, self.spec_params(), cols % nflat, energy_weight, energy_ref,
                  forces_weight, forces_ref)

    def __repr__(self):
        return f"{type(self).__name__}(species={self.species!r}, model_name={self.model_name!r})"


def _wait_for_kernels(spec_module):
    from workbench.engine import precompile

    precompile.wait(spec_module)


class _ShiftableModel(BuiltinModel):
    """A pair potential whose energy can be shifted to zero at the cutoff."""

    def __init__(self, species=("Si",), model_name: str | None = None, params_transform=None,
                 shifted: bool = False):
        self.shifted = bool(shifted)
        self.spec_name = self.shifted_spec if self.shifted else self.base_spec
        super().__init__(species, model_name, params_transform)

    def init_kwargs(self) -> dict:
        return {**super().init_kwargs(), "shifted": self.shifted}


class LennardJones(_ShiftableModel):
    """12-6 Lennard-Jones (KIM LennardJones612 driver form); KLIFF's tutorial defaults
    epsilon = 1.0, sigma = 2.0, cutoff = 5.0 for every species pair.  ``shifted=True``
    shifts the energy to zero at the cutoff."""

    spec_module = "workbench.engine.lj"
    base_spec, shifted_spec = "LJ", "LJ_shifted"
    default_name = "LJ6-12"
    default_values = {"epsilon": 1.0, "sigma": 2.0, "cutoff": 5.0}
    param_aliases = {"epsilons": "epsilon", "sigmas": "sigma", "cutoffs": "cutoff"}


class Morse(_ShiftableModel):
    """Morse pair potential (``shifted=True``: the Morse_Shifted driver's form)."""

    spec_module = "workbench.engine.morse"
    base_spec, shifted_spec = "Morse", "Morse_Shifted"
    default_name = "Morse"


class StillingerWeber(BuiltinModel):
    """Stillinger-Weber (KIM SW driver form); defaults are SW_StillingerWeber_1985_Si."""

    spec_module = "workbench.engine.sw"
    default_name = "SW"


class Tersoff(BuiltinModel):
    """Tersoff (KIM Tersoff_LAMMPS driver form)."""

    spec_module = "workbench.engine.tersoff"
    default_name = "Tersoff"


#: Built-in model classes by the names the CLI and saved files use.
BUILTIN_MODELS = {
    "LennardJones": LennardJones,
    "Morse": Morse,
    "StillingerWeber": StillingerWeber,
    "Tersoff": Tersoff,
}

# EAM subclasses BuiltinModel and adds itself to BUILTIN_MODELS when imported
import workbench.models.eam  # noqa: E402,F401
