"""Make the bundled MODEL-GENERATED aluminium reference set ``Al_EAM``.

Every energy, force and stress in it is computed by the installed OpenKIM model
EAM_CubicNaturalSpline_ErcolessiAdams_1994_Al__MO_800509458712_002 (Ercolessi & Adams,
Europhys. Lett. 26, 583 (1994)) through kim-api -- it is not DFT data.  It exists so the
spline EAM can be fitted back to a known model and checked against its properties.

Content (extended XYZ, one configuration per file, eV / Angstrom, stress in eV/A^3):
fcc (4 atoms) at 7 lattice constants and 12 small strains, bcc and hcp at 5 volumes each,
a 31-atom vacancy cell (relaxation-free, two rattles), an fcc(111) slab with vacuum, and
NVE molecular-dynamics snapshots of a 32-atom cell at 300, 600 and 900 K.

    python scripts/make_eam_reference_set.py OUT_DIR      # writes OUT_DIR/Al_EAM_model_generated
    tar czf workbench/datasets/data/Al_EAM_model_generated.tar.gz -C OUT_DIR Al_EAM_model_generated
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

KIM_NAME = "EAM_CubicNaturalSpline_ErcolessiAdams_1994_Al__MO_800509458712_002"
A0 = 4.032  # the model's fcc lattice constant (its setfl header)


def structures():
    from ase.build import bulk, fcc111

    out = []
    for a in np.linspace(3.85, 4.25, 7):
        out.append(("fcc_volume", bulk("Al", "fcc", a=a, cubic=True)))
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    for k, (i, j) in enumerate(voigt):
        for eps in (-0.01, 0.01):
            at = bulk("Al", "fcc", a=A0, cubic=True)
            f = np.eye(3)
            f[i, j] += eps if i == j else eps / 2
            if i != j:
                f[j, i] += eps / 2
            at.set_cell(at.cell[:] @ f.T, scale_atoms=True)
            out.append(("fcc_strain", at))
    for a in np.linspace(3.1, 3.4, 5):
        out.append(("bcc_volume", bulk("Al", "bcc", a=a, cubic=True)))
    for a in np.linspace(2.75, 3.0, 5):
        out.append(("hcp_volume", bulk("Al", "hcp", a=a, c=a * 1.633)))
    rng = np.random.default_rng(7)
    for k in range(3):
        at = bulk("Al", "fcc", a=A0, cubic=True).repeat((2, 2, 2))
        del at[0]
        if k:
            at.positions += rng.normal(0, 0.03, at.positions.shape)
        out.append(("vacancy", at))
    slab = fcc111("Al", size=(2, 2, 5), a=A0, vacuum=6.0, periodic=True)
    out.append(("surface_111", slab))
    slab2 = slab.copy()
    slab2.positions += rng.normal(0, 0.05, slab2.positions.shape)
    out.append(("surface_111", slab2))
    return out


def md_snapshots(calc):
    from ase import units
    from ase.build import bulk
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    out = []
    for temp in (300, 600, 900):
        at = bulk("Al", "fcc", a=A0, cubic=True).repeat((2, 2, 2))
        at.calc = calc
        MaxwellBoltzmannDistribution(at, temperature_K=2 * temp,
                                     rng=np.random.default_rng(temp))
        dyn = VelocityVerlet(at, timestep=2.0 * units.fs)
        for _ in range(3):
            dyn.run(60)
            snap = at.copy()
            out.append((f"md_{temp}K", snap))
    return out


def main(out_dir):
    from ase.calculators.kim import KIM

    from workbench.data.configuration import Configuration
    from workbench.data.extxyz import write_extxyz
    from workbench.models.kim import KIMModel

    root = Path(out_dir) / "Al_EAM_model_generated"
    root.mkdir(parents=True, exist_ok=True)
    items = structures() + md_snapshots(KIM(KIM_NAME))
    kim = KIMModel(KIM_NAME)
    configs = [Configuration(np.array(at.cell[:]), at.get_chemical_symbols(),
                             at.positions.copy(), [True] * 3) for _, at in items]
    labels = kim.compute(kim.prepare(configs), forces=True, stress=True)
    offsets = np.cumsum([0] + [len(c.species) for c in configs])
    for k, (kind, at) in enumerate(items):
        energy = float(labels.energy[k])
        forces = labels.forces[offsets[k]:offsets[k + 1]]
        stress = labels.stress[k]
        sub = root / kind
        sub.mkdir(exist_ok=True)
        write_extxyz(sub / f"{kind}_{k:03d}.xyz", np.array(at.cell[:]),
                     at.get_chemical_symbols(), at.positions, [True, True, True],
                     energy=energy, forces=forces, stress=stress)
    (root / "README.md").write_text(
        "# Al_EAM_model_generated\n\nMODEL-GENERATED reference data, not DFT: every energy, "
        f"force and stress was computed by the OpenKIM model {KIM_NAME} through kim-api "
        "(script: scripts/make_eam_reference_set.py).\n")
    print(f"wrote {len(items)} configurations to {root}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
