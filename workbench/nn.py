"""KLIFF's ``kliff.nn``: ``from workbench import nn`` gives torch's layers plus the
per-configuration ``Dropout`` (see :mod:`workbench.ml.nn`)."""

from workbench.ml.nn import *  # noqa: F401,F403
from workbench.ml.nn import Dropout  # noqa: F401
