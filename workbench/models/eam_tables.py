"""Tabulated EAM functions: LAMMPS setfl/funcfl files and installed KIM EAM models.

Each reader returns ``(species, tables, grids, cutoff)`` with ``tables[name]`` sampled at
``grids[name]`` for the EAM function names ``F_<a>``, ``rho_<b>``, ``rphi_<a>_<b>``
(r times the pair energy, eV*Angstrom).  Grids start at 0 with the file's spacing.

* setfl (``*.eam.alloy``): three comment lines; ``N el_1 .. el_N``; ``Nrho drho Nr dr
  cutoff``; per element ``Z mass a lattice``, F (Nrho values), rho (Nr); then r*phi of
  every pair i >= j (Nr each).
* funcfl (``*.eam``): one comment line; ``Z mass a lattice``; ``Nrho drho Nr dr
  cutoff``; F (Nrho), the effective charge Z(r) (Nr), rho (Nr); r*phi = 27.2*0.529 Z^2
  (Hartree*Bohr in eV*Angstrom, LAMMPS's constants).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.errors import KIMError, ModelError

HARTREE_BOHR = 27.2 * 0.529


def _numbers(tokens, start, count, path, what):
    chunk = tokens[start:start + count]
    if len(chunk) < count:
        raise ModelError(f"{path}: the file ends inside {what} ({len(chunk)} of {count} "
                         "values)")
    try:
        return np.array(chunk, dtype=float), start + count
    except ValueError as exc:
        raise ModelError(f"{path}: {what}: {exc}") from None


def read_eam_table(path):
    """Read a setfl or funcfl file (see the module docstring)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read EAM table {path}: {exc}") from exc
    if len(lines) < 6:
        raise ModelError(f"{path}: too short for a setfl or funcfl EAM file")
    head = lines[3].split()
    is_setfl = bool(head) and head[0].isdigit() and len(head) == int(head[0]) + 1
    if is_setfl:
        species = head[1:]
        try:
            nrho, drho, nr, dr, cutoff = lines[4].split()[:5]
            nrho, nr, drho, dr, cutoff = int(nrho), int(nr), float(drho), float(dr), \
                float(cutoff)
        except ValueError:
            raise ModelError(f"{path}, line 5: expected 'Nrho drho Nr dr cutoff'") from None
        tokens = " ".join(lines[5:]).split()
        tables, k = {}, 0
        for s in species:
            k += 4  # Z mass a lattice
            tables[f"F_{s}"], k = _numbers(tokens, k, nrho, path, f"F of {s}")
            tables[f"rho_{s}"], k = _numbers(tokens, k, nr, path, f"rho of {s}")
        for i, a in enumerate(species):
            for j in range(i + 1):
                b = species[j]
                vals, k = _numbers(tokens, k, nr, path, f"r*phi of {a}-{b}")
                lo, hi = sorted((i, j))
                tables[f"rphi_{species[lo]}_{species[hi]}"] = vals
    else:
        try:
            species = [_element(int(lines[1].split()[0]))]
            nrho, drho, nr, dr, cutoff = lines[2].split()[:5]
            nrho, nr, drho, dr, cutoff = int(nrho), int(nr), float(drho), float(dr), \
                float(cutoff)
        except (ValueError, IndexError):
            raise ModelError(f"{path}: neither a setfl file (line 4 'N el_1 .. el_N') nor "
                             "a funcfl file (line 3 'Nrho drho Nr dr cutoff')") from None
        tokens = " ".join(lines[3:]).split()
        s = species[0]
        tables, k = {}, 0
        tables[f"F_{s}"], k = _numbers(tokens, k, nrho, path, "F")
        z, k = _numbers(tokens, k, nr, path, "Z(r)")
        tables[f"rho_{s}"], k = _numbers(tokens, k, nr, path, "rho")
        tables[f"rphi_{s}_{s}"] = HARTREE_BOHR * z * z
    grids = {n: (np.arange(nrho) * drho if n.startswith("F_") else np.arange(nr) * dr)
             for n in tables}
    return tuple(species), tables, grids, cutoff


def _element(z: int) -> str:
    from ase.data import chemical_symbols

    return chemical_symbols[z]


def tables_from_kim(name: str):
    """The tables of an installed KIM EAM model of the EAM_CubicNaturalSpline or
    EAM_Dynamo driver, read through its published kim-api parameters."""
    from workbench.models.kim import KIMModel

    model = KIMModel(name)
    params = model.get_params_dict()
    need = ("cutoff", "deltaRho", "deltaR", "embeddingData", "densityData", "rPhiData")
    if any(k not in params for k in need):
        raise KIMError(f"{name} does not publish the tabulated EAM parameters {need} "
                       f"(it has {sorted(params)}); is it an EAM_CubicNaturalSpline or "
                       "EAM_Dynamo model?")
    species = sorted(model.get_supported_species(),
                     key=lambda s: model.get_supported_species()[s])
    S = len(species)
    emb = params["embeddingData"].reshape(S, -1)
    nrho = emb.shape[1]
    npairs = S * (S + 1) // 2
    phi_all, dens = params["rPhiData"], params["densityData"]
    # the driver stores r*phi per species pair (full S x S or the lower triangle of the
    # setfl file) and rho per species (or per ordered pair); pick the consistent layout
    layouts = [(nr, pf, df) for pf in (S * S, npairs) for df in (S, S * S)
               for nr in {phi_all.size // pf}
               if phi_all.size == pf * nr and dens.size == df * nr]
    if not layouts:
        raise KIMError(f"{name}: cannot read its EAM tables (rPhiData {phi_all.size}, "
                       f"densityData {dens.size} values for {S} species)")
    nr, pf, df = layouts[0]
    phi = {}
    if pf == S * S:
        full = phi_all.reshape(S, S, nr)
        phi = {(a, b): full[a, b] for a in range(S) for b in range(a, S)}
    else:
        tri = phi_all.reshape(npairs, nr)
        k = 0
        for i in range(S):
            for j in range(i + 1):
                phi[(j, i)] = tri[k]
                k += 1
    if df == S * S:
        dens = dens.reshape(S, S, nr)
        if any(not np.array_equal(dens[b, 0], dens[b, a]) for b in range(S)
               for a in range(S)):
            raise KIMError(f"{name} has Finnis-Sinclair densities (rho depends on both "
                           "species); the EAM model has rho_b(r) only")
        dens = dens[:, 0]
    else:
        dens = dens.reshape(S, nr)
    tables, grids = {}, {}
    rgrid = np.arange(nr) * float(params["deltaR"][0])
    for a, s in enumerate(species):
        tables[f"F_{s}"] = emb[a]
        grids[f"F_{s}"] = np.arange(nrho) * float(params["deltaRho"][0])
        tables[f"rho_{s}"] = dens[a]
        grids[f"rho_{s}"] = rgrid
    for a in range(S):
        for b in range(a, S):
            n = f"rphi_{species[a]}_{species[b]}"
            tables[n] = phi[(a, b)]
            grids[n] = rgrid
    return tuple(species), tables, grids, float(params["cutoff"][0])
