"""The Jupyter workbench: widget panels that observe a FitSession and never compute.

``from workbench.ui import Workbench`` (panels are imported on first use).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Workbench": "workbench.ui.workbench",
    "DatasetBrowser": "workbench.ui.dataset_browser",
    "ParameterTable": "workbench.ui.parameter_table",
    "WeightEditor": "workbench.ui.weight_editor",
    "LossMonitor": "workbench.ui.loss_monitor",
    "AnalysisView": "workbench.ui.analysis_view",
    "ModelPicker": "workbench.ui.model_picker",
    "Throttle": "workbench.ui.throttle",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
