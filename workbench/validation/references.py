"""Reference values beside the predictions.

* A bundled table (``data/references.json``) of experimental and DFT values with their
  sources, keyed by ``"<formula>/<prototype>"`` (Si/diamond, SiC/zincblende).  Each
  value says in ``checked`` where it was confirmed or that it could not be (the table's
  ``_note`` sums up which).
* DFT E-V points from a data set's uniformly strained crystals: the Si training set's
  ``varying_alat`` configurations (least-perturbed one per lattice constant), with their
  own Birch-Murnaghan fit.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("data") / "references.json"


@lru_cache(maxsize=1)
def reference_table() -> dict:
    return {k: v for k, v in json.loads(TABLE.read_text(encoding="utf-8")).items()
            if not k.startswith("_")}


def table_key(structure, species) -> str | None:
    if not isinstance(structure, str):
        return None
    return f"{''.join(species)}/{structure.lower()}"


def references_for(structure, species) -> dict:
    return dict(reference_table().get(table_key(structure, species) or "", {}))


def compare(values: dict, structure, species) -> list[dict]:
    """Rows of property, prediction, reference, difference (absolute and %), source."""
    rows = []
    for name, ref in references_for(structure, species).items():
        pred = values.get(name)
        if pred is None or not np.isfinite(pred):
            continue
        diff = pred - ref["value"]
        rows.append({"property": name, "unit": ref["unit"], "prediction": float(pred),
                     "prediction_std": values.get(f"{name}_std"),
                     "reference": ref["value"], "difference": float(diff),
                     "percent": float(100 * diff / abs(ref["value"])),
                     "kind": ref["kind"], "source": ref["source"],
                     "checked": ref.get("checked", "")})
    return rows


_ALAT = re.compile(r"alat(\d+\.\d+)_scale([\d.]+)_perturb(\d+)")


def dft_eos_points(dataset="Si") -> dict | None:
    """Volumes (Å³/atom) and energies (eV/atom) of a data set's strained crystals, with
    their Birch-Murnaghan fit; None when the data set has no such configurations."""
    from workbench import datasets
    from workbench.data import Dataset

    root = Path(datasets.path(dataset)) if dataset in datasets.names() else Path(dataset)
    folder = root / "varying_alat"
    if not folder.is_dir():
        return None
    best: dict[str, tuple] = {}
    for f in folder.glob("*.xyz"):
        m = _ALAT.search(f.name)
        if m is None:
            continue
        key = (float(m.group(2)), int(m.group(3)))
        if m.group(1) not in best or key < best[m.group(1)][0]:
            best[m.group(1)] = (key, f)
    files = [best[k][1] for k in sorted(best)]
    configs = [Dataset(f).get_configs()[0] for f in files]
    v = np.array([c.get_volume() / c.get_num_atoms() for c in configs])
    e = np.array([c.energy / c.get_num_atoms() for c in configs])
    from ase.eos import EquationOfState
    from ase.units import GPa

    eos = EquationOfState(v, e, eos="birchmurnaghan")
    v0, e0, b = eos.fit(warn=False)
    return {"volumes": v.tolist(), "energies": e.tolist(), "V0": float(v0), "E0": float(e0),
            "B": float(b / GPa), "Bp": float(eos.eos_parameters[2]),
            "source": f"{dataset} data set, varying_alat (DFT)"}
