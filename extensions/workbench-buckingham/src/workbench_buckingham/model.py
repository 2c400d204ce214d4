"""The Buckingham model: a BuiltinModel over this package's PotentialSpec.

Registered under the ``workbench.models`` entry-point group as ``Buckingham``, so it is
listed by ``workbench model --list``, offered by the UI's model picker and rebuilt by
``workbench.models.io.load_model`` from a saved file.
"""

from __future__ import annotations

from workbench.models.builtin import BuiltinModel


class Buckingham(BuiltinModel):
    """Buckingham pair potential A exp(-r/rho) - C/r^6 (per species pair, shifted cutoff)."""

    spec_module = "workbench_buckingham.engine"
    default_name = "Buckingham"
