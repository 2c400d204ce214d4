"""AnalysisView: parity plots, per-configuration errors and the Fisher information.

The numbers come from ``workbench.analysis``; the view only draws them.  Until that module
provides its analyses the view says so instead of drawing anything.
"""

from __future__ import annotations

import importlib

import ipywidgets as w

UNAVAILABLE = ("<i>Analysis available after the analysis module is installed "
               "(workbench.analysis: per-configuration RMSE and Fisher information).</i>")


def analysis_api():
    """The analysis entry points this view uses, or None when they are not there."""
    try:
        mod = importlib.import_module("workbench.analysis")
    except ImportError:
        return None
    needed = ("EnergyForcesRMSE", "Fisher")
    if not all(hasattr(mod, n) for n in needed):
        return None
    return mod


class AnalysisView(w.VBox):
    """Parity plots (train and test), per-configuration errors sorted by size (a click
    selects the configuration in ``browser``) and the Fisher information."""

    def __init__(self, workbench=None, browser=None, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-analysis-view")
        self.workbench = workbench
        self.browser = browser
        self.status_w = w.HTML()
        self.refresh_w = w.Button(description="Refresh analysis", icon="refresh")
        self.refresh_w.on_click(lambda _: self.refresh())
        self.children = [w.HBox([self.refresh_w, self.status_w])]
        self.available = analysis_api() is not None
        if not self.available:
            self.refresh_w.disabled = True
            self.status_w.value = UNAVAILABLE

    def refresh(self) -> None:
        if analysis_api() is None:
            self.available = False
            self.status_w.value = UNAVAILABLE
            return
        self.available = True
        self.status_w.value = "<i>analysis module found</i>"
