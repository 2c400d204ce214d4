"""SNAP bispectrum descriptor (see ``_bispectrum_kernels`` for the definitions).

Hyperparameters (KLIFF's names and defaults):

* ``jmax`` (4): largest angular momentum j (half-integers allowed); twojmax = 2 jmax.
* ``rfac0`` (0.99363): the neighbor angle theta0 reaches rfac0*pi at the cutoff.
* ``diagonalstyle`` (3): which triples (j1, j2, j) (doubled labels) are kept, in this
  order: for j1 = 0..twojmax, j2 = 0..j1, j = j1-j2..min(twojmax, j1+j2) step 2 —
  style 3 keeps j >= j1 (LAMMPS's components, in LAMMPS's order), 0 keeps all,
  1 keeps j1 == j2.
* ``rmin0`` (0): inner radius of the angle mapping and switching function.
* ``switch_flag`` (1): multiply each neighbor by 0.5 (cos(pi (r - rmin0)/(rc - rmin0)) + 1).
* ``bzero_flag`` (0): subtract the bispectrum of an isolated atom.
* ``weight`` (1 for every species): the neighbor weight of each species.

Relation to LAMMPS's ``compute sna/atom rcutfac rfac0 twojmax R_1..R_N w_1..w_N``: the
cutoff of pair A-B there is rcutfac (R_A + R_B); give that value as ``cut_dists["A-B"]``
(one species: rcutfac = cut / 2, R = 1).  w_A = ``weight[A]``, twojmax = 2 jmax,
``rmin0``, ``switchflag``, ``bzeroflag`` as here.  The self contribution has weight 1.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from workbench.errors import ParameterError
from workbench.ml.descriptors import _bispectrum_kernels as K
from workbench.ml.descriptors._base import DescriptorBase

DEFAULTS = {"jmax": 4, "rfac0": 0.99363, "diagonalstyle": 3, "rmin0": 0.0,
            "switch_flag": 1, "bzero_flag": 0, "weight": None}


def bispectrum_default(species=("Si",), jmax=4) -> dict:
    """KLIFF's default bispectrum hyperparameters, unit weight for each species."""
    hp = dict(DEFAULTS)
    hp["jmax"] = jmax
    hp["weight"] = {s: 1.0 for s in species}
    return hp


def triple_list(twojmax: int, diagonalstyle: int) -> np.ndarray:
    out = []
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if diagonalstyle == 3 and j < j1:
                    continue
                if diagonalstyle == 1 and j1 != j2:
                    continue
                out.append((j1, j2, j))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def _clebsch_gordan(j1, m1, j2, m2, j, m) -> float:
    """<j1 m1 j2 m2 | j m> with doubled integer labels (Racah's formula, exact sums)."""
    if m1 + m2 != m or abs(m1) > j1 or abs(m2) > j2 or abs(m) > j:
        return 0.0
    if (j1 + m1) % 2 or (j2 + m2) % 2 or (j + m) % 2 or (j1 + j2 + j) % 2:
        return 0.0
    if j < abs(j1 - j2) or j > j1 + j2:
        return 0.0
    f = math.factorial

    def h(x):  # x is even after the parity checks: the undoubled value
        return x // 2

    pre = Fraction((j + 1) * f(h(j1 + j2 - j)) * f(h(j1 - j2 + j)) * f(h(-j1 + j2 + j)),
                   f(h(j1 + j2 + j) + 1))
    pre *= (f(h(j1 + m1)) * f(h(j1 - m1)) * f(h(j2 + m2)) * f(h(j2 - m2))
            * f(h(j + m)) * f(h(j - m)))
    s = Fraction(0)
    for k in range(h(j1 + j2 - j) + 1):
        d = [k, h(j1 + j2 - j) - k, h(j1 - m1) - k, h(j2 + m2) - k,
             h(j - j2 + m1) + k, h(j - j1 - m2) + k]
        if min(d) < 0:
            continue
        den = 1
        for x in d:
            den *= f(x)
        s += Fraction((-1) ** k, den)
    return float(s) * math.sqrt(float(pre))


def cg_table(twojmax: int) -> np.ndarray:
    """cg[j1, j2, j, m1, m2] = <j1 m1' j2 m2' | j m1'+m2'>, m' = 2 m - j (doubled)."""
    n = twojmax + 1
    cg = np.zeros((n, n, n, n, n))
    for j1 in range(n):
        for j2 in range(n):
            for j in range(abs(j1 - j2), min(twojmax, j1 + j2) + 1, 2):
                for m1 in range(j1 + 1):
                    for m2 in range(j2 + 1):
                        a = 2 * m1 - j1
                        b = 2 * m2 - j2
                        cg[j1, j2, j, m1, m2] = _clebsch_gordan(j1, a, j2, b, j, a + b)
    return cg


class Bispectrum(DescriptorBase):
    """Bispectrum descriptor: ``Bispectrum({"Si-Si": 5.0}, "cos", {"jmax": 4, ...})``.

    Only the cosine switching function exists (``cut_name="cos"``); ``switch_flag=0``
    turns it off.  See the module docstring for the hyperparameters.
    """

    supported_cutoffs = ("cos",)

    def __init__(self, cut_dists, cut_name="cos", hyperparams=None, normalize=True,
                 dtype=np.float32):
        hp = dict(DEFAULTS)
        for key, val in (hyperparams or {}).items():
            if key not in DEFAULTS:
                raise ParameterError(
                    f"bispectrum hyperparameter {key!r} unknown; expected one of "
                    f"{', '.join(DEFAULTS)} (cutoffs come from cut_dists)")
            hp[key] = val
        super().__init__(cut_dists, cut_name, hp, normalize, dtype)
        twoj = 2 * float(hp["jmax"])
        if twoj != int(twoj) or twoj < 0:
            raise ParameterError(f"jmax = {hp['jmax']}: expected a non-negative integer "
                                 "or half-integer")
        self.twojmax = int(twoj)
        if hp["diagonalstyle"] not in (0, 1, 3):
            raise ParameterError(f"diagonalstyle = {hp['diagonalstyle']}: expected 0, 1 or 3")
        self.rfac0 = float(hp["rfac0"])
        self.rmin0 = float(hp["rmin0"])
        if not 0.0 < self.rfac0 <= 1.0:
            raise ParameterError(f"rfac0 = {self.rfac0}: expected 0 < rfac0 <= 1")
        if not 0.0 <= self.rmin0 < self.rcut_table.min():
            raise ParameterError(f"rmin0 = {self.rmin0}: expected 0 <= rmin0 < every cutoff")
        self.switch = int(bool(hp["switch_flag"]))
        self.bzero_flag = int(bool(hp["bzero_flag"]))
        weights = hp["weight"]
        self.weight = np.ones(len(self.species))
        if weights is not None:
            for s, code in self.species_code.items():
                if s not in weights:
                    raise ParameterError(f"bispectrum weight for species {s!r} not given "
                                         f"(weight has {', '.join(map(str, weights))})")
                self.weight[code] = float(weights[s])
        self.triples = triple_list(self.twojmax, int(hp["diagonalstyle"]))
        self.cg = cg_table(self.twojmax)
        self.size = len(self.triples)
        self.bzero = np.zeros(self.size)
        if self.bzero_flag:
            self.bzero = self._isolated_atom()

    def _isolated_atom(self) -> np.ndarray:
        """Bispectrum of an atom without neighbors (w_self = 1)."""
        z = np.zeros((1, self.size))
        K.bispectrum_batch(np.array([0, 1]), np.zeros(1, np.int64), np.array([0, 0]),
                           np.zeros(0, np.int64), np.zeros((0, 3)), self.rcut_table,
                           self.weight, self.rfac0, self.rmin0, self.switch, self.twojmax,
                           self.triples, self.cg, np.zeros(self.size), False, False, 0, 1,
                           z, np.zeros(0), np.zeros(2, np.int64), np.zeros((0, self.size, 6)))
        return z[0].copy()

    def get_size(self) -> int:
        """The number of bispectrum components per atom (length of one fingerprint row)."""
        return self.size

    def _run(self, nb, fit_forces, fit_stress, nprocs=1):
        outputs = self._outputs(nb, fit_forces, fit_stress)
        zeta, dzdr, dr_offsets, dzds = outputs

        def work(lo, hi):
            K.bispectrum_batch(
                nb.config_offsets, nb.species, nb.pair_offsets, nb.pair_j, nb.pair_d,
                self.rcut_table, self.weight, self.rfac0, self.rmin0, self.switch,
                self.twojmax, self.triples, self.cg, self.bzero, bool(fit_forces),
                bool(fit_stress), lo, hi, zeta, dzdr, dr_offsets, dzds)

        self._parallel(work, len(nb.config_offsets) - 1, nprocs)
        return self._per_config(nb, outputs, fit_forces, fit_stress)
