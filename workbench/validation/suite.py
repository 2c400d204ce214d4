"""The property suite: one call computes the chosen properties of one model.

``validate(model, "diamond", "Si")`` relaxes the crystal, then runs each property in
``ALL_PROPERTIES`` order that was asked for, reporting progress through ``progress(done,
total, message)`` and checking ``should_stop()`` between properties (the Validate tab's
background job uses both).  The result keeps scalar values (``values``, the keys of
:data:`SUMMARY_UNITS` and a few more) and the curves of every property (``details``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from workbench.validation import bulk, defects, elastic, md, phonons
from workbench.validation.references import compare, dft_eos_points
from workbench.validation.settings import ValidationSettings, check_properties
from workbench.validation.structures import is_cubic_prototype, species_list

#: the scalar results, with their units (what ``workbench validate --json`` prints)
SUMMARY_UNITS = {
    "lattice_constant": "Å",
    "cohesive_energy": "eV/atom",
    "bulk_modulus": "GPa",
    "C11": "GPa",
    "C12": "GPa",
    "C44": "GPa",
    "phonon_min_frequency": "THz",
    "vacancy_formation_energy": "eV",
}
#: further scalar results
EXTRA_UNITS = {
    "c_over_a": "", "V0": "Å³/atom", "E0": "eV/atom", "B_prime": "", "B_from_Cij": "GPa",
    "C44_unrelaxed": "GPa", "phonon_gamma_optical": "THz", "phonon_X_TA": "THz",
    "phonon_X_LA": "THz", "phonon_X_TO": "THz",
    "vacancy_formation_energy_unrelaxed": "eV", "surface_energy": "J/m²",
    "dimer_r_min": "Å", "dimer_e_min": "eV", "md_drift": "eV/atom/ps",
    "md_max_excursion": "eV/atom", "md_held": "",
}


class Stopped(Exception):
    """The caller asked the suite to stop."""


@dataclass
class ValidationResult:
    """Values and curves of one model's properties."""

    model: str
    structure: str
    species: list
    properties: tuple
    settings: dict
    values: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    references: list = field(default_factory=list)
    dft_eos: dict | None = None
    timings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The scalar results of :data:`SUMMARY_UNITS` that were computed."""
        return {k: self.values[k] for k in SUMMARY_UNITS if k in self.values}

    def to_dict(self) -> dict:
        """A JSON-ready dict of the result (values in eV, Å, GPa, THz as labelled)."""
        return {"model": self.model, "structure": self.structure, "species": self.species,
                "properties": list(self.properties), "settings": self.settings,
                "values": self.values, "details": self.details,
                "references": self.references, "dft_eos": self.dft_eos,
                "timings": self.timings}

    @classmethod
    def from_dict(cls, d: dict) -> "ValidationResult":
        """Rebuild a result from ``to_dict()``'s output."""
        d = dict(d)
        d["properties"] = tuple(d.get("properties", ()))
        return cls(**d)

    def to_json(self, **kw) -> str:
        """``to_dict()`` as JSON text (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kw)


def _structure_name(structure) -> str:
    return structure if isinstance(structure, str) else structure.get_chemical_formula()


def validate(model, structure="diamond", species=("Si",), properties=None, settings=None,
             progress=None, should_stop=None, eos_volumes=None, references=True,
             dft_dataset=None) -> ValidationResult:
    """Compute ``properties`` (default: ``DEFAULT_PROPERTIES``) of ``model``.

    ``structure`` is a prototype name or an ``ase.Atoms``; ``species`` a symbol list
    (``"Si"``, ``["Si", "C"]``); ``settings`` a ValidationSettings or a dict of its fields.
    ``eos_volumes`` fixes the E-V grid (Å³/atom; an ensemble shares one).  With
    ``references`` the bundled table is compared and, for Si, the DFT E-V points of the
    Si data set (``dft_dataset``) are attached.
    """
    if not isinstance(settings, ValidationSettings):
        settings = ValidationSettings.from_dict(settings)
    props = check_properties(properties)
    if isinstance(structure, str):
        species = species_list(species)
    else:
        species = sorted(set(structure.get_chemical_symbols()))
    total = len(props) + 1
    times = {}
    done = [0]

    def step(name, fn):
        if should_stop is not None and should_stop():
            raise Stopped(name)
        if progress is not None:
            progress(done[0], total, name)
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        done[0] += 1
        return out

    atoms, lattice = step("relax", lambda: bulk.relaxed_crystal(model, structure, species,
                                                                settings))
    name = getattr(model, "model_name", None) or type(model).__name__
    res = ValidationResult(str(name), _structure_name(structure), list(species), props,
                           settings.to_dict())
    v, d = res.values, res.details
    d["lattice"] = lattice
    v["lattice_constant"] = lattice["a"]
    if "c_over_a" in lattice:
        v["c_over_a"] = lattice["c_over_a"]
    v["cohesive_energy"] = bulk.cohesive_energy(model, atoms)
    r_nn = bulk.nearest_neighbor_distance(structure, lattice)
    if r_nn is None:
        from workbench.validation.structures import nearest_neighbor_distances

        r_nn = float(nearest_neighbor_distances(atoms, 6.0).min())
    cubic = is_cubic_prototype(structure)
    for prop in props:
        if prop == "lattice":
            continue
        if prop == "eos":
            eos = step(prop, lambda: bulk.equation_of_state(model, atoms, settings,
                                                            eos_volumes))
            d["eos"] = eos
            v.update(V0=eos["V0"], E0=eos["E0"], bulk_modulus=eos["B"], B_prime=eos["Bp"])
        elif prop == "elastic":
            el = step(prop, lambda: elastic.elastic_constants(atoms, settings, cubic))
            d["elastic"] = el
            v.update({k: el[k] for k in el if k.startswith("C") or k == "B_from_Cij"})
        elif prop == "phonons":
            ph = step(prop, lambda: phonons.phonons(model, atoms, settings))
            d["phonons"] = ph
            v["phonon_min_frequency"] = ph["min_frequency"]
            v.update(_special_modes(ph, structure))
        elif prop == "vacancy":
            vac = step(prop, lambda: defects.vacancy_formation_energy(model, atoms, settings))
            d["vacancy"] = vac
            v["vacancy_formation_energy"] = vac["relaxed"]
            v["vacancy_formation_energy_unrelaxed"] = vac["unrelaxed"]
        elif prop == "surface":
            surf = step(prop, lambda: defects.surface_energy(model, atoms, settings))
            d["surface"] = surf
            v["surface_energy"] = surf["J_per_m2"]
        elif prop == "dimer":
            dim = step(prop, lambda: defects.dimer_curve(model, species, r_nn, settings))
            d["dimer"] = dim
            v.update(dimer_r_min=dim["r_min"], dimer_e_min=dim["e_min"])
        elif prop == "trimer":
            d["trimer"] = step(prop, lambda: defects.trimer_curve(model, species, r_nn,
                                                                   settings))
        elif prop == "functions":
            d["functions"] = step(prop, lambda: defects.function_curves(model))
        elif prop == "md":
            run = step(prop, lambda: md.md_stability(model, atoms, r_nn, settings,
                                                     should_stop))
            d["md"] = run
            v.update(md_drift=run["drift"], md_max_excursion=run["max_excursion"],
                     md_held=float(run["held"]))
    if progress is not None:
        progress(total, total, "done")
    res.timings = times
    if references:
        res.references = compare(v, structure, species)
        if species == ["Si"] and isinstance(structure, str) and structure == "diamond":
            res.dft_eos = dft_eos_points(dft_dataset or "Si")
    return res


def _special_modes(ph: dict, structure) -> dict:
    """Frequencies at Γ and X of diamond-like crystals (optical at Γ; TA, LA, TO at X)."""
    if structure not in ("diamond", "zincblende"):
        return {}
    sp = ph["special_frequencies"]
    out = {}
    if "G" in sp:
        out["phonon_gamma_optical"] = float(max(sp["G"]))
    if "X" in sp:
        fx = np.sort(sp["X"])
        out.update(phonon_X_TA=float(fx[0]), phonon_X_LA=float(fx[2]),
                   phonon_X_TO=float(fx[-1]))
    return out

