"""Calculator: binds a model to a list of configurations (KLIFF's layout and method names).

``create`` prepares the model once for the data set (neighbor lists / packed batch or KIM
compute arguments) and gathers the reference data into flat arrays.  ``compute`` evaluates
the whole set in one model call.  Per-configuration views (``get_compute_arguments``) keep
KLIFF's ``get_energy(ca)`` / ``get_prediction(ca)`` style working.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import LossError


@dataclass
class ComputeArguments:
    """A view of one configuration inside a created Calculator."""

    calculator: "Calculator"
    index: int

    @property
    def conf(self):
        return self.calculator.configs[self.index]

    def get_prediction(self):
        """This configuration's predicted values at the current parameters (energy in
        eV, then forces in eV/Å and stress in eV/Å³ when used), laid out as KLIFF does."""
        return self.calculator.get_prediction(self)

    def get_reference(self):
        """This configuration's reference values, laid out like get_prediction."""
        return self.calculator.get_reference(self)


class Calculator:
    """Evaluates a model on a set of configurations.

    Args:
        model: any ``workbench.models.model.Model`` (built-in, KIM, plugin).
    """

    def __init__(self, model):
        self.model = model
        self.configs: list = []
        self.use_energy = True
        self.use_forces = True
        self.use_stress = False
        self.state_ = None
        self.result_ = None

    # -- set-up ---------------------------------------------------------------------
    def create(self, configs, use_energy=True, use_forces=True, use_stress=False, **_):
        """Prepare the model for ``configs`` and collect their reference data, if any.

        Configurations need no reference data to be predicted (the energy is always
        computed; ``use_forces``/``use_stress`` add forces and stress); a :class:`Loss`
        checks that the references it compares with are there.
        """
        configs = list(configs)
        if not configs:
            raise LossError("Calculator.create needs at least one configuration")
        self.configs = configs
        self.use_energy, self.use_forces, self.use_stress = use_energy, use_forces, use_stress
        natoms = np.array([c.get_num_atoms() for c in configs], dtype=np.int64)
        self.natoms = natoms
        self.atom_offsets = np.concatenate([[0], np.cumsum(natoms)])
        self.ref_energy = np.array(
            [c.energy if c.energy is not None else np.nan for c in configs], dtype=float)
        self.ref_forces = np.concatenate(
            [np.asarray(c.forces, float) if c.forces is not None
             else np.full((c.get_num_atoms(), 3), np.nan) for c in configs])
        self.ref_stress = np.array(
            [np.asarray(c.stress, float) if c.stress is not None else np.full(6, np.nan)
             for c in configs]).reshape(-1, 6)
        self.state_ = self.model.prepare(configs)
        self.result_ = None
        return self.get_compute_arguments()

    def check_references(self):
        """Raise LossError naming the first configuration that lacks a reference property
        the calculator computes for a loss (energy, forces, stress as used)."""
        check_references(self.configs, self.use_energy, self.use_forces, self.use_stress)

    def get_compute_arguments(self):
        """One compute-argument handle per configuration, in data-set order
        (KLIFF's interface; each is accepted by get_energy, get_forces, ...)."""
        return [ComputeArguments(self, k) for k in range(len(self.configs))]

    # -- evaluation -----------------------------------------------------------------
    def compute(self, ca=None, jacobian=False, columns=None):
        """Evaluate the model on all configurations (``ca`` is accepted for KLIFF code)."""
        self._require_created()
        self.result_ = self.model.compute(
            self.state_, forces=self.use_forces, stress=self.use_stress,
            jacobian=jacobian, columns=columns)
        return self.result_

    def _require_created(self):
        if self.state_ is None:
            raise LossError("call Calculator.create(configs) first")

    def _result(self):
        if self.result_ is None:
            self.compute()
        return self.result_

    def _index(self, ca):
        return ca.index if isinstance(ca, ComputeArguments) else int(ca)

    def get_energy(self, ca):
        """Predicted energy (eV) of the configuration behind ``ca`` (a handle or an index)."""
        return float(self._result().energy[self._index(ca)])

    def get_forces(self, ca):
        """Predicted forces (eV/Angstrom, an (N, 3) copy) of the configuration behind ``ca``."""
        k = self._index(ca)
        a, b = self.atom_offsets[k], self.atom_offsets[k + 1]
        return self._result().forces[a:b].copy()

    def get_stress(self, ca):
        """Predicted stress (eV/Angstrom^3, Voigt order xx yy zz yz xz xy) of the
        configuration behind ``ca``, or None when stress is not computed."""
        stress = self._result().stress
        return None if stress is None else stress[self._index(ca)].copy()

    def _layout(self, energy, forces, stress):
        parts = []
        if self.use_energy:
            parts.append(np.atleast_1d(energy))
        if self.use_forces:
            parts.append(np.asarray(forces).ravel())
        if self.use_stress:
            parts.append(np.asarray(stress).ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def get_prediction(self, ca):
        """Energy, then flattened forces, then Voigt stress (the used ones only)."""
        k = self._index(ca)
        return self._layout(self.get_energy(k), self.get_forces(k) if self.use_forces else (),
                            self.get_stress(k) if self.use_stress else ())

    def get_reference(self, ca):
        """The reference values of the configuration behind ``ca`` laid out like
        get_prediction (energy, forces flattened, stress, as used)."""
        k = self._index(ca)
        a, b = self.atom_offsets[k], self.atom_offsets[k + 1]
        return self._layout(self.ref_energy[k], self.ref_forces[a:b], self.ref_stress[k])

    # -- parameters (delegated to the model) ------------------------------------------
    def get_opt_params(self):
        """The optimizer's vector: the model's free parameter components in the
        transformed space."""
        return self.model.get_opt_params()

    def get_num_opt_params(self):
        """The number of free parameter components."""
        return self.model.get_num_opt_params()

    def get_opt_params_bounds(self):
        """Bounds of the free components in the transformed space, one
        ``[lower, upper]`` pair each (None for an open side)."""
        return self.model.get_opt_params_bounds()

    def has_opt_params_bounds(self):
        """True when any free component has a bound."""
        return self.model.has_opt_params_bounds()

    def update_model_params(self, x):
        """Write the optimizer's vector ``x`` (transformed space) into the model;
        ParameterError if a value leaves its parameter's domain."""
        self.model.update_model_params(np.asarray(x, dtype=float))
        self.result_ = None

    update_opt_params = update_model_params


def config_label(config, index) -> str:
    """How errors name a configuration: its identifier, else its index in the list."""
    ident = getattr(config, "identifier", None)
    return repr(str(ident)) if ident is not None else f"#{index}"


def check_references(configs, use_energy, use_forces, use_stress, who="the Calculator"):
    """A loss compares predictions with references: every configuration must have the
    reference properties that are used."""
    wanted = [p for p, used in (("energy", use_energy), ("forces", use_forces),
                                ("stress", use_stress)) if used]
    if not wanted:
        raise LossError(f"nothing to fit: {who} was created with use_energy, use_forces "
                        "and use_stress all False")
    for k, c in enumerate(configs):
        for prop in wanted:
            if getattr(c, prop, None) is None:
                raise LossError(
                    f"configuration {config_label(c, k)} has no reference {prop}, which the "
                    f"loss needs; create {who} with use_{prop}=False or leave the "
                    "configuration out of the training set")
