"""Buckingham pair potential for Potential Workbench.

``E = 1/2 sum_i sum_j phi(r_ij)``, ``phi(r) = A exp(-r/rho) - C/r^6 - shift``, per
unordered species pair, cut off at ``cutoff``; see :mod:`workbench_buckingham.engine`.
"""

from workbench_buckingham.engine import SPEC
from workbench_buckingham.model import Buckingham

__all__ = ["SPEC", "Buckingham"]
