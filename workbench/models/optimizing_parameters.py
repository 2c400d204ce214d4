"""KLIFF's ``OptimizingParameters``: which components of a set of parameters are optimized.

Our models keep this state themselves (``Model.set_opt_params`` and friends); this class
gives the same rules to a bare ``{name: Parameter}`` mapping by reusing those methods, so
there is one implementation of the settings grammar, the bounds checks and ``x``.
"""

from __future__ import annotations

import sys

from workbench.models.model import Model


class OptimizingParameters:
    """``OptimizingParameters(model_params)``: ``model_params`` is ``{name: Parameter}``
    (e.g. ``model.get_model_params()``); the parameters themselves are modified."""

    def __init__(self, model_params):
        self.model_params = model_params
        self.model_name = "OptimizingParameters"
        self._opt_names: list[str] = []

    def _params_changed(self, names) -> None:
        pass

    _param = Model._param
    _display_name = Model._display_name
    _restore = Model._restore
    _opt_index = Model._opt_index

    set_opt_params = set = Model.set_opt_params
    set_one_opt_param = set_one = Model.set_one_opt_param
    read = Model.read_opt_params
    get_num_opt_params = Model.get_num_opt_params
    get_opt_params = Model.get_opt_params
    update_model_params = Model.update_model_params
    get_opt_param_names = Model.get_opt_param_names
    update_opt_params = Model.update_model_params
    get_opt_params_bounds = Model.get_opt_params_bounds
    has_opt_params_bounds = Model.has_opt_params_bounds
    get_opt_param_name_value_and_indices = Model.get_opt_param_name_value_and_indices

    def echo_opt_params(self, filename=sys.stdout, echo_size=True) -> str:
        return Model.echo_opt_params(self, filename)
