"""Energy and force errors per configuration and over a data set (KLIFF's definitions).

For configuration m with N atoms the *energy difference norm* is ``|e_pred − e_ref|`` and
the *forces difference norm* is the Frobenius norm ``‖f_pred − f_ref‖`` of the (N, 3)
difference; both are divided by N when ``normalize`` is true.  The data-set RMSE of either
quantity is ``sqrt(mean_m norm_m²)`` over the M configurations.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from workbench.errors import LossError

DIFF_DIR = "analysis_energy_forces_RMSE-difference"


class EnergyForcesRMSE:
    """Root-mean-square errors of energy and forces for a created Calculator.

    Args:
        calculator: a :class:`workbench.fit.calculator.Calculator` after ``create``.
        energy, forces: which quantities to analyze.

    After :meth:`run`: ``identifiers``, ``natoms``, ``energy_norm`` (M,), ``forces_norm``
    (M,), ``max_atom_force_error`` (M,), ``energy_rmse``, ``forces_rmse``.
    """

    def __init__(self, calculator, energy=True, forces=True):
        if not (energy or forces):
            raise LossError("EnergyForcesRMSE: energy and forces are both False")
        self.calculator = calculator
        self.compute_energy = bool(energy)
        self.compute_forces = bool(forces)
        self.energy_rmse = None
        self.forces_rmse = None
        self._normalize = True

    # -- computation ---------------------------------------------------------------
    def _predict(self):
        calc = self.calculator
        calc._require_created()
        forces = self.compute_forces
        result = calc.model.compute(calc.state_, forces=forces, stress=False)
        return np.asarray(result.energy, float), (
            np.asarray(result.forces, float) if forces else None)

    def compute(self, normalize=True):
        """Fill the per-configuration arrays and the data-set RMSEs; returns ``self``."""
        calc = self.calculator
        configs = calc.configs
        self._check_refs(configs)
        energy, forces = self._predict()
        n = np.asarray(calc.natoms, float)
        scale = n if normalize else np.ones_like(n)
        self._normalize = bool(normalize)
        self.identifiers = [str(c.identifier) for c in configs]
        self.natoms = np.asarray(calc.natoms, dtype=np.int64)
        self.energy_diff = energy - np.array([c.energy if c.energy is not None else np.nan
                                              for c in configs])
        self.energy_norm = np.abs(self.energy_diff) / scale if self.compute_energy else None
        if self.compute_forces:
            ref = np.concatenate([np.asarray(c.forces, float) for c in configs])
            self.forces_diff = forces - ref
            per_atom_sq = np.einsum("ij,ij->i", self.forces_diff, self.forces_diff)
            starts = np.asarray(calc.atom_offsets[:-1], dtype=np.int64)
            per_conf = np.add.reduceat(per_atom_sq, starts)
            self.forces_norm = np.sqrt(per_conf) / scale
            self.max_atom_force_error = np.sqrt(np.maximum.reduceat(per_atom_sq, starts))
        else:
            self.forces_diff = self.forces_norm = self.max_atom_force_error = None
        M = len(configs)
        self.energy_rmse = (float(np.linalg.norm(self.energy_norm) / np.sqrt(M))
                            if self.compute_energy else None)
        self.forces_rmse = (float(np.linalg.norm(self.forces_norm) / np.sqrt(M))
                            if self.compute_forces else None)
        return self

    def _check_refs(self, configs):
        for c in configs:
            if self.compute_energy and c.energy is None:
                raise LossError(f"configuration {c.identifier!r} has no reference energy; "
                                "use EnergyForcesRMSE(calc, energy=False)")
            if self.compute_forces and c.forces is None:
                raise LossError(f"configuration {c.identifier!r} has no reference forces; "
                                "use EnergyForcesRMSE(calc, forces=False)")

    def order(self, sort=None) -> np.ndarray:
        """Configuration indices in ascending order of the chosen error (or as given)."""
        M = len(self.identifiers)
        if sort is None:
            return np.arange(M)
        if sort not in ("energy", "forces"):
            raise LossError(f"sort must be None, 'energy' or 'forces', got {sort!r}")
        key = self.energy_norm if sort == "energy" else self.forces_norm
        if key is None:
            return np.arange(M)
        return np.argsort(key, kind="stable")

    # -- reporting -----------------------------------------------------------------
    def run(self, normalize=True, sort=None, path=None, verbose=1):
        """Compute and report; returns ``(energy_rmse, forces_rmse)``.

        ``verbose`` 0: the data-set RMSEs; 1: also the per-configuration table (ordered by
        ``sort``); 2: also write the per-atom differences of every configuration as
        extended-XYZ files (energy difference in the comment line, force differences in the
        force columns) under ``diff_dir`` — the directory
        ``analysis_energy_forces_RMSE-difference`` next to ``path`` (or in the working
        directory when ``path`` is None), mirroring the data set's directory layout.
        The report goes to ``path`` (written atomically) or to stdout.
        """
        if verbose not in (0, 1, 2):
            raise LossError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self.compute(normalize)
        order = self.order(sort)
        text = self.report(order, verbose)
        if verbose >= 2:
            base = Path(path).parent if path is not None else Path(os.getcwd())
            self.diff_dir = self.write_differences(base / DIFF_DIR)
        if path is None:
            sys.stdout.write(text)
        else:
            from workbench.atomic import write_text_atomic

            write_text_atomic(path, text)
        return self.energy_rmse, self.forces_rmse

    def report(self, order=None, verbose=1) -> str:
        """The RMSE table as text: per configuration (when asked) and overall energy
        (eV/atom when normalised) and force (eV/Angstrom) errors."""
        unit = " per atom" if self._normalize else ""
        bar = "#" * 80
        lines = [bar, "#", "# Root-mean-square errors for energy and forces", "#",
                 f"# Values are{unit or ' totals'} ({'normalized by the number of atoms' if self._normalize else 'not normalized'}).",
                 bar, ""]
        if verbose >= 1:
            order = np.arange(len(self.identifiers)) if order is None else order
            lines += [bar, "Per configuration quantity", ""]
            head = "# config    "
            if self.compute_energy:
                head += "energy difference norm    "
            if self.compute_forces:
                head += "forces difference norm    "
            lines.append(head + "config identifier")
            for rank, k in enumerate(order):
                row = f"{rank:<10d}    "
                if self.compute_energy:
                    row += f"{self.energy_norm[k]:.10e}" + " " * 10
                if self.compute_forces:
                    row += f"{self.forces_norm[k]:.10e}" + " " * 10
                lines.append(row + self.identifiers[k])
            lines += ["", ""]
        lines += [bar, "RMSE for the dataset (all configurations)."]
        if self.compute_energy:
            lines.append(f"{self.energy_rmse:.10e}    # energy RMSE")
        if self.compute_forces:
            lines.append(f"{self.forces_rmse:.10e}    # forces RMSE")
        lines += ["", ""]
        if verbose >= 2:
            lines += [bar, f"# The per-atom differences are written in extended XYZ format "
                           f"under the directory {DIFF_DIR!r}.", "", ""]
        return "\n".join(lines)

    def write_differences(self, directory) -> Path:
        """One extended-XYZ file per configuration with prediction − reference."""
        from workbench.data.extxyz import write_extxyz

        directory = Path(directory)
        configs = self.calculator.configs
        rel = _relative_names(configs)
        off = self.calculator.atom_offsets
        for k, c in enumerate(configs):
            fd = (self.forces_diff[off[k]:off[k + 1]] if self.forces_diff is not None
                  else None)
            ed = float(self.energy_diff[k]) if self.compute_energy else None
            write_extxyz(directory / rel[k], c.cell, c.species, c.coords, c.PBC,
                         energy=ed, forces=fd)
        return directory

    def to_dataframe(self, normalize=None):
        """A pandas DataFrame, one row per configuration, for tables and plots."""
        import pandas as pd

        if self.energy_rmse is None and self.forces_rmse is None:
            self.compute(True if normalize is None else normalize)
        elif normalize is not None and bool(normalize) != self._normalize:
            self.compute(normalize)
        configs = self.calculator.configs
        nan = np.full(len(configs), np.nan)
        return pd.DataFrame({
            "identifier": self.identifiers,
            "natoms": self.natoms,
            "energy_error": self.energy_norm if self.compute_energy else nan,
            "force_error": self.forces_norm if self.compute_forces else nan,
            "max_atom_force_error": (self.max_atom_force_error if self.compute_forces
                                     else nan),
            "weight": [float(c.config_weight) for c in configs],
        })


def _relative_names(configs) -> list[str]:
    """File names for the difference files: paths relative to the data set's common
    directory (``config_<k>.xyz`` for configurations without a path)."""
    paths = [Path(c.path).resolve() if c.path is not None else None for c in configs]
    real = [str(p) for p in paths if p is not None]
    common = Path(os.path.commonpath(real)) if real else None
    if common is not None and len(real) == 1:
        common = common.parent
    out = []
    for k, p in enumerate(paths):
        if p is None:
            out.append(f"config_{k}.xyz")
        else:
            out.append(str(p.relative_to(common)))
    return out
