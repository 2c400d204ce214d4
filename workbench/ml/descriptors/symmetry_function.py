"""Behler's atom-centred symmetry functions (J. Behler, J. Chem. Phys. 134, 074106 (2011)).

    G1 = sum_j fc(r_ij)
    G2 = sum_j exp(-eta (r_ij - Rs)^2) fc(r_ij)
    G3 = sum_j cos(kappa r_ij) fc(r_ij)
    G4 = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta
             exp(-eta (r_ij^2 + r_ik^2 + r_jk^2)) fc(r_ij) fc(r_ik) fc(r_jk)
    G5 = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta
             exp(-eta (r_ij^2 + r_ik^2)) fc(r_ij) fc(r_ik)

with the cutoff of each pair taken from ``cut_dists`` by the species of the pair.  The
descriptor vector has one entry per hyperparameter row, in the order given (KLIFF's layout:
the entries are not split by neighbor species).
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError
from workbench.ml.descriptors import _sf_kernels as K
from workbench.ml.descriptors._base import DescriptorBase
from workbench.ml.descriptors.hyperparams import NAMED_SETS, named_set

_CUT_CODES = {"cos": 0, "P3": 1, "P7": 2}
_FIELDS = {"g1": (), "g2": ("eta", "Rs"), "g3": ("kappa",),
           "g4": ("zeta", "lambda", "eta"), "g5": ("zeta", "lambda", "eta")}
_KIND = {"g1": 1, "g2": 2, "g3": 3, "g4": 4, "g5": 5}


class SymmetryFunction(DescriptorBase):
    """Symmetry-function descriptor.

    Args:
        cut_dists: cutoff per species pair, e.g. ``{"Si-Si": 5.0, "Si-C": 4.5, "C-C": 4.0}``.
        cut_name: ``"cos"``, ``"P3"`` (1 - 3x^2 + 2x^3) or ``"P7"``
            (1 - 35x^4 + 84x^5 - 70x^6 + 20x^7), x = r / rc.
        hyperparams: ``"set51"``, ``"set30"`` or a dict such as
            ``{"g2": [{"eta": 0.1, "Rs": 0.0}], "g4": [{"zeta": 1, "lambda": -1, "eta": 0.01}]}``
            (``"g1": None`` adds the plain cutoff sum).
        normalize: center and scale fingerprints by the data set's mean and stdev.
        dtype: dtype of the stored fingerprints (float32 like KLIFF, or float64).
    """

    supported_cutoffs = tuple(_CUT_CODES)

    def __init__(self, cut_dists, cut_name="cos", hyperparams="set51", normalize=True,
                 dtype=np.float32):
        if isinstance(hyperparams, str):
            try:
                hyperparams = named_set(hyperparams)
            except KeyError:
                raise ParameterError(
                    f"hyperparams {hyperparams!r}: expected one of {', '.join(NAMED_SETS)} "
                    "or a dict") from None
        super().__init__(cut_dists, cut_name, self._check_hyperparams(hyperparams),
                         normalize, dtype)
        self._cut_code = _CUT_CODES[self.cut_name]
        self._compile_params()

    @staticmethod
    def _check_hyperparams(hp) -> dict:
        if not isinstance(hp, dict) or not hp:
            raise ParameterError("hyperparams: expected 'set51', 'set30' or a non-empty dict")
        out = {}
        for key, rows in hp.items():
            name = str(key).lower()
            if name not in _FIELDS:
                raise ParameterError(
                    f"hyperparams: symmetry function {key!r} unknown; expected g1..g5")
            if name == "g1":
                out[name] = None
                continue
            if not isinstance(rows, (list, tuple)) or not rows:
                raise ParameterError(f"hyperparams[{key!r}]: expected a non-empty list of dicts")
            clean = []
            for n, row in enumerate(rows):
                try:
                    clean.append({f: float(row[f]) for f in _FIELDS[name]})
                except (KeyError, TypeError) as e:
                    raise ParameterError(
                        f"hyperparams[{key!r}][{n}]: expected keys {_FIELDS[name]}, "
                        f"missing {e}") from None
            out[name] = clean
        return out

    def _compile_params(self):
        two_kind, two_par, two_idx = [], [], []
        three_kind, three_par, three_idx = [], [], []
        idx = 0
        for name, rows in self.hyperparams.items():
            if name == "g1":
                rows = [{}]
            for row in rows:
                vals = [row.get(f, 0.0) for f in _FIELDS[name]]
                if _KIND[name] <= 3:
                    two_kind.append(_KIND[name])
                    two_par.append((vals + [0.0, 0.0])[:2])
                    two_idx.append(idx)
                else:
                    three_kind.append(_KIND[name])
                    three_par.append(vals)
                    three_idx.append(idx)
                idx += 1
        self.size = idx
        self._two = (np.array(two_kind, np.int64), np.array(two_par, float).reshape(-1, 2),
                     np.array(two_idx, np.int64))
        three_par = np.array(three_par, float).reshape(-1, 3)
        eta_u, eta_inv = np.unique(three_par[:, 2], return_inverse=True)
        zl_u, zl_inv = np.unique(three_par[:, :2], axis=0, return_inverse=True)
        zl_u = zl_u.reshape(-1, 2)
        self._three = (np.array(three_kind, np.int64), np.array(three_idx, np.int64),
                       np.asarray(eta_inv, np.int64).ravel(),
                       np.asarray(zl_inv, np.int64).ravel(),
                       2.0 ** (1.0 - three_par[:, 0]),
                       np.ascontiguousarray(eta_u, float),
                       np.ascontiguousarray(zl_u[:, 0], float),
                       np.ascontiguousarray(zl_u[:, 1], float))

    def get_size(self) -> int:
        """The number of descriptor values per atom (length of one fingerprint row)."""
        return self.size

    def _run(self, nb, fit_forces, fit_stress, nprocs=1):
        """Evaluate a neighbor batch (see ``_base.NeighborBatch``)."""
        nd = self.size
        outputs = self._outputs(nb, fit_forces, fit_stress)
        zeta, dzdr, dr_offsets, dzds = outputs

        def work(lo, hi):
            K.symmetry_functions_batch(
                nb.config_offsets, nb.species, nb.pair_offsets, nb.pair_j, nb.pair_d,
                self.rcut_table, self._cut_code, *self._two, *self._three, nd,
                bool(fit_forces), bool(fit_stress), lo, hi, zeta, dzdr, dr_offsets, dzds)

        self._parallel(work, len(nb.config_offsets) - 1, nprocs)
        return self._per_config(nb, outputs, fit_forces, fit_stress)
