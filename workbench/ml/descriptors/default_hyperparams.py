"""KLIFF 1.x's ``default_hyperparams``: the default hyperparameter sets by KLIFF's names.

``symmetry_functions_set51()`` / ``symmetry_functions_set30()`` (Artrith & Behler),
``bispectrum_default()`` and ``soap_default()``: each returns a new dict.
"""

from workbench.ml.descriptors.bispectrum import bispectrum_default  # noqa: F401
from workbench.ml.descriptors.descriptor import (  # noqa: F401
    soap_default,
    symmetry_functions_set30,
    symmetry_functions_set51,
)
