"""Evaluate one configuration with an installed OpenKIM model through kimpy.

Periodic images are supplied as non-contributing padding atoms (kimpy's padding utility);
their forces are folded back onto the atoms they image.  Used to validate the engine's
potentials against the real kim-api models.
"""

from __future__ import annotations

import functools

import numpy as np

kimpy = __import__("pytest").importorskip("kimpy")


@functools.lru_cache(maxsize=None)
def _model_cached(name):
    return kim_model(name)


def kim_model(name):
    """A fresh kimpy model object (eV, Angstrom units)."""
    accepted, model = kimpy.model.create(
        kimpy.numbering.zeroBased, kimpy.length_unit.A, kimpy.energy_unit.eV,
        kimpy.charge_unit.e, kimpy.temperature_unit.K, kimpy.time_unit.ps, name)
    if not accepted:
        raise RuntimeError(f"KIM model {name} did not accept eV/Angstrom units")
    return model


def kim_param_index(model, name) -> int:
    for k in range(model.get_number_of_parameters()):
        if model.get_parameter_metadata(k)[2] == name:
            return k
    raise KeyError(name)


def set_kim_params(model, values: dict):
    """Set mutable parameters: ``{name: {array_index: value}}``, then refresh the model."""
    for name, entries in values.items():
        k = kim_param_index(model, name)
        for idx, v in entries.items():
            model.set_parameter(k, int(idx), v)
    model.clear_then_refresh()


def kim_species_code(model, symbol) -> int:
    supported, code = model.get_species_support_and_code(getattr(kimpy.species_name, symbol))
    if not supported:
        raise ValueError(f"species {symbol} not supported by the KIM model")
    return int(code)


def kim_compute(model, coords, cell, pbc, species, virial=True):
    """Energy, forces (N,3) and virial (6, Voigt xx yy zz yz xz xy; None if not asked).

    ``model`` is a kimpy model or a model name.
    """
    if isinstance(model, str):
        model = _model_cached(model)
    coords = np.ascontiguousarray(coords, dtype=np.double)
    n = coords.shape[0]
    codes = np.array([kim_species_code(model, s) for s in species], dtype=np.intc)
    influence = model.get_influence_distance()
    cutoffs, hints = model.get_neighbor_list_cutoffs_and_hints()
    cutoffs = np.asarray(cutoffs, dtype=np.double)
    pad_need_neigh = not all(int(h) == 1 for h in np.atleast_1d(hints))
    pbc_i = np.asarray(pbc, dtype=np.intc)
    if pbc_i.any():
        reach = influence * (2.0 if pad_need_neigh else 1.0)
        pad_coords, pad_codes, pad_image = kimpy.neighlist.create_paddings(
            reach, np.ascontiguousarray(cell, dtype=np.double), pbc_i, coords, codes)
        pad_coords = np.asarray(pad_coords, dtype=np.double).reshape(-1, 3)
        pad_image = np.asarray(pad_image, dtype=np.intc)
        pad_codes = np.asarray(pad_codes, dtype=np.intc)
    else:
        pad_coords = np.zeros((0, 3))
        pad_image = np.zeros(0, dtype=np.intc)
        pad_codes = np.zeros(0, dtype=np.intc)
    npad = pad_coords.shape[0]
    all_coords = np.ascontiguousarray(np.concatenate([coords, pad_coords]), dtype=np.double)
    all_codes = np.ascontiguousarray(np.concatenate([codes, pad_codes]), dtype=np.intc)
    contributing = np.concatenate([np.ones(n, np.intc), np.zeros(npad, np.intc)])
    need_neigh = np.concatenate([np.ones(n, np.intc),
                                 np.full(npad, 1 if pad_need_neigh else 0, np.intc)])
    neigh = kimpy.neighlist.create()
    neigh.build(all_coords, influence, cutoffs, np.ascontiguousarray(need_neigh))

    ca = model.compute_arguments_create()
    num = np.array([n + npad], dtype=np.intc)
    energy = np.zeros(1, dtype=np.double)
    forces = np.zeros((n + npad, 3), dtype=np.double)
    vir = np.zeros(6, dtype=np.double)
    name = kimpy.compute_argument_name
    ca.set_argument_pointer(name.numberOfParticles, num)
    ca.set_argument_pointer(name.particleSpeciesCodes, all_codes)
    ca.set_argument_pointer(name.particleContributing, contributing)
    ca.set_argument_pointer(name.coordinates, all_coords)
    ca.set_argument_pointer(name.partialEnergy, energy)
    ca.set_argument_pointer(name.partialForces, forces)
    if virial:
        ca.set_argument_pointer(name.partialVirial, vir)
    ca.set_callback_pointer(kimpy.compute_callback_name.GetNeighborList,
                            kimpy.neighlist.get_neigh_kim(), neigh)
    model.compute(ca)
    total = forces[:n].copy()
    np.add.at(total, pad_image, forces[n:])
    return float(energy[0]), total, (vir.copy() if virial else None)
