"""KLIFF's ``OptimizingParameters``: which components of a set of parameters are optimized.

Our models keep this state themselves (``Model.set_opt_params`` and friends); this class
gives the same rules to a bare ``{name: Parameter}`` mapping by inheriting those methods
(and nothing model-specific is used: it is never prepared or computed), so there is one
implementation of the settings grammar, the bounds checks and ``x``.
"""

from __future__ import annotations

import sys

from workbench.models.model import Model


class OptimizingParameters(Model):
    """``OptimizingParameters(model_params)``: ``model_params`` is ``{name: Parameter}``
    (e.g. ``model.get_model_params()``); the parameters themselves are modified."""

    def __init__(self, model_params):  # no Model.__init__: the parameters exist already
        self.model_name = "OptimizingParameters"
        self.params_transform = None
        self.model_params = model_params
        self._opt_names: list[str] = []
        self.params_version = 0

    set = Model.set_opt_params
    set_one = Model.set_one_opt_param
    read = Model.read_opt_params
    update_opt_params = Model.update_model_params

    def echo_opt_params(self, filename=sys.stdout, echo_size=True) -> str:
        return Model.echo_opt_params(self, filename)

    def __repr__(self):
        return f"OptimizingParameters({list(self.model_params)})"
