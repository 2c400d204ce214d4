"""The Workbench: every panel in one layout, and the set-up as a fit config file.

``Workbench(dataset=..., model=...)`` composes the DatasetBrowser, WeightEditor,
ModelPicker, ParameterTable, LossMonitor and AnalysisView around one
:class:`workbench.ui.state.WorkbenchState` (``wb.state``): the panels render from it and
send their intent back to it, so a model or data change reaches all of them at once.
Further tabs are panels built as ``Panel(state)`` with a ``.widget`` (``tabs=[...]``, or
the named slots of ``TAB_SLOTS``).  ``to_config()`` writes the
whole set-up in the schema of docs/fit_config.md, which ``Workbench.from_config`` and
``workbench fit CONFIG.yaml`` read back.  A neural network (from the Model tab's builder
or passed as ``model``) is trained in the Fit tab with a TrainingSession
(:mod:`workbench.ui.training`).
"""

from __future__ import annotations

import importlib
import json

import ipywidgets as w

from workbench.fit import setup_file as fc
from workbench.ui.analysis_view import AnalysisView
from workbench.ui.dataset_browser import DatasetBrowser
from workbench.ui.export_panel import ExportPanel
from workbench.ui.figures import (FigureSizer, figures_in, resize_later,
                                   untrack_figure_views, widgets_in)
from workbench.ui.loss_monitor import LossMonitor, parse_options
from workbench.ui.model_picker import ModelPicker
from workbench.ui.names import escape_html, page_title
from workbench.ui.parameter_table import ParameterTable
from workbench.ui.preparing import Preparer, PreparingBar
from workbench.ui.state import WorkbenchState
from workbench.ui.training import TrainingSetup, is_torch_model, network_section
from workbench.ui.weight_editor import WeightEditor, spec_from_configs

#: the share of the configurations held out as a test set when a network is trained
NETWORK_TEST_FRACTION = 0.1

#: named tab slots: title -> (module, class) of a panel built as ``Panel(state)``
TAB_SLOTS = {"Runs": ("workbench.ui.runs_panel", "RunsPanel"),
             "Validate": ("workbench.ui.validate_panel", "ValidatePanel")}


def slot_panel(title: str, state):
    """The panel of the named slot ``title`` built on ``state``, or None when its module
    is not part of this installation."""
    module_name, class_name = TAB_SLOTS[title]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return getattr(module, class_name)(state)


def unavailable(title: str) -> w.HTML:
    module_name, _ = TAB_SLOTS[title]
    box = w.HTML(f"<i>The {title} tab is not available in this installation "
                 f"({module_name} is not installed).</i>")
    box.add_class("wb-tab-unavailable")
    return box


class Workbench(w.VBox):
    """Interactive fitting of ``model`` to ``dataset``.

    Args:
        dataset: a Dataset (or list of Configurations) with weights set.
        model: the model to fit; choose what to fit with ``model.set_opt_params`` or in
            the parameter table.
        fit: the ``fit`` section of a config (method, options, residual,
            normalize_by_natoms, use_energy/forces/stress).
        weight, weight_rules: the weight settings the WeightEditor starts from (default:
            those the configurations carry).
        output: the ``output`` section kept for ``to_config``.
    """

    def __init__(self, dataset, model, fit: dict | None = None, weight: dict | None = None,
                 weight_rules=None, output: dict | None = None, tabs=(), **kwargs):
        super().__init__(**kwargs)
        untrack_figure_views()
        self.add_class("wb-workbench")
        self.dataset = dataset
        fit = {**fc.FIT_DEFAULTS, **(fit or {})}
        self.output = dict(output or {})
        self.calculator = None
        self.training = TrainingSetup()
        configs = list(dataset.get_configs() if hasattr(dataset, "get_configs") else dataset)
        self.data_name = fc.dataset_path_name(configs)
        self.state = WorkbenchState(configs, model, fit_settings=fit, data_name=self.data_name)
        # Only the Fit tab's figures exist up front; the others are created when their tab
        # is first opened (a page then loads few plotly widgets at once, which Voila needs).
        self.browser = DatasetBrowser(configs, lazy_figures=True, state=self.state)
        root_dir = fc.dataset_root(configs)
        self.weights = WeightEditor(configs, weight or spec_from_configs(configs),
                                    rules=weight_rules, browser=self.browser,
                                    on_change=self.browser.refresh_weights, root=root_dir,
                                    lazy_figures=True)
        self.params = ParameterTable(model, on_change=lambda _m: self.state.params_changed())
        self.picker = ModelPicker(on_model=self.set_model, current=model,
                                  species=self.state.species() or ("Si",),
                                  data_species=self.state.species())
        self.analysis = AnalysisView(workbench=self, browser=self.browser)
        self.monitor = LossMonitor(self.make_objective, model=model,
                                   parameter_table=self.params, method=fit["method"],
                                   options=fit["options"] or {"maxiter": 100},
                                   make_training=self.make_training, state=self.state,
                                   preflight=self.preflight,
                                   check_objective=self._check_objective)
        self.params.on_validity.append(self._table_validity)
        self.monitor.on_finish.append(self._fit_finished)

        self.use_energy_w = w.Checkbox(value=bool(fit["use_energy"]), description="energy",
                                       indent=False)
        self.use_forces_w = w.Checkbox(value=bool(fit["use_forces"]), description="forces",
                                       indent=False)
        self.use_stress_w = w.Checkbox(value=bool(fit["use_stress"]), description="stress",
                                       indent=False)
        self.normalize_w = w.Checkbox(value=bool(fit["normalize_by_natoms"]),
                                      description="divide residuals by the number of atoms",
                                      indent=False)
        self.residual_w = w.Dropdown(options=["default"] + _residual_names(),
                                     value=fit["residual"] or "default", description="residual")
        for wid, tip in (
                (self.use_energy_w, "fit the energies of the configurations"),
                (self.use_forces_w, "fit the forces on the atoms (many numbers per "
                                    "configuration: usually what determines the fit)"),
                (self.use_stress_w, "fit the stresses (only for data that has them)"),
                (self.normalize_w, "divide each configuration's residuals by its number of "
                                   "atoms, so large cells do not dominate (KLIFF's default)"),
                (self.residual_w, "how differences become the loss: default is the "
                                  "weighted difference; other residuals come from plugins")):
            wid.tooltip = tip
        settings = w.VBox([w.HTML("<b>fit to</b>"),
                           w.HBox([self.use_energy_w, self.use_forces_w, self.use_stress_w]),
                           self.normalize_w, self.residual_w])
        # side by side when the page is wide, the monitor below the table when it is not;
        # the figures take the width of their column
        left = w.VBox([w.HTML("<b>parameters</b>"), self.params.tools_w, self.params, settings],
                      layout=w.Layout(flex="1 1 560px", min_width="0"))
        self.monitor.layout = w.Layout(flex="1 1 480px", min_width="0")
        self.fit_tab = w.HBox([left, self.monitor],
                              layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.fit_tab.add_class("wb-fit-tab")
        self.export = ExportPanel(self.state, self.to_config)
        self.panels = {"Export": self.export}
        for title in TAB_SLOTS:
            panel = slot_panel(title, self.state)
            if panel is not None:
                self.panels[title] = panel
        for panel_class in tabs:
            panel = panel_class(self.state)
            self.panels[getattr(panel, "title", panel_class.__name__)] = panel
        if "Runs" in self.panels:
            self.panels["Runs"].on_restore = self.restore_run
        extra = {title: (self.panels[title].widget if title in self.panels
                         else unavailable(title)) for title in TAB_SLOTS}
        extra.update({t: p.widget for t, p in self.panels.items()
                      if t not in TAB_SLOTS and t != "Export"})
        self.tabs = w.Tab(children=[self.fit_tab, self.browser, self.weights, self.picker,
                                    self.analysis, self.export.widget, *extra.values()],
                          titles=["Fit", "Data", "Weights", "Model", "Analysis", "Export",
                                  *extra])
        self.tabs.observe(self._on_tab, "selected_index")
        self.title_w = w.HTML()
        self.title_w.add_class("wb-title")
        self._update_title()
        self.state.observe(lambda _: self._update_title(),
                           ["model", "included", "split", "job", "params_revision"])
        self._job_observed = None
        self.state.observe(self._watch_job, "job")
        # a model set through the state by another panel (e.g. a run restored in the Runs
        # tab) reaches the parameter table too
        self.state.observe(self._model_changed, "model")
        self._displayed = False
        # the model's kernels compile when the page shows the Workbench, not at Fit
        self.preparer = Preparer(self.state)
        self.preparing_w = PreparingBar(self.state)
        self.sizer = FigureSizer()  # figures follow their boxes' width
        self.children = [self.title_w, self.preparing_w, self.tabs, self.sizer]
        self.default_test_split()

    # ---------------------------------------------------------------- fitting
    @property
    def model(self):
        """The model being fitted (``state.model``)."""
        return self.state.model

    @property
    def session(self):
        """The session of the current model's latest fit (None before the first)."""
        return self.monitor.session

    def _repr_mimebundle_(self, **kwargs):
        """Displaying the Workbench again (another cell, a reopened notebook) gives the
        figures fresh front-end models drawn from the jobs' histories."""
        if self._displayed:
            self.redraw()
        self._displayed = True
        self.preparer.start()
        return super()._repr_mimebundle_(**kwargs)

    def redraw(self) -> None:
        """New figures for every panel, drawn from the state (jobs keep their history)."""
        self.monitor.new_figures()
        self.monitor.redraw()
        self.analysis.redraw()

    def fit_settings(self) -> dict:
        """The ``fit`` section for the current widget settings."""
        return {"method": self.monitor.method_w.value,
                "options": parse_options(self.monitor.options_w.value),
                "residual": None if self.residual_w.value == "default" else self.residual_w.value,
                "normalize_by_natoms": bool(self.normalize_w.value),
                "use_energy": bool(self.use_energy_w.value),
                "use_forces": bool(self.use_forces_w.value),
                "use_stress": bool(self.use_stress_w.value)}

    def preflight(self, method: str, options: dict) -> str | None:
        """Why Fit cannot start with the current set-up (None: it can)."""
        from workbench.ui import guards

        reasons = self.params.invalid_reasons()
        if reasons:
            return "fix the parameter table first: " + "; ".join(reasons)
        configs = self.browser.fit_configs()
        if not configs:
            return "no configurations to fit: include some in the Data tab"
        data_species = sorted({s for c in configs for s in c.species})
        for problem in (guards.species_problem(self.model, data_species),
                        guards.free_parameter_problem(self.model),
                        guards.weight_problem(configs, self.fit_settings()),
                        None if self.monitor.is_torch else
                        guards.options_problem(method, options)):
            if problem:
                return problem
        return None

    def _check_objective(self, objective) -> str | None:
        from workbench.ui.guards import starting_loss_problem

        return starting_loss_problem(objective, self.browser.fit_configs())

    def _table_validity(self, reasons) -> None:
        self.monitor.set_blocked("fix the parameter table first: " + "; ".join(reasons)
                                 if reasons else None)

    def make_objective(self):
        """A Loss over the included training configurations with the current settings."""
        from workbench.errors import LossError

        configs = self.browser.fit_configs()
        if not configs:
            raise LossError("no configurations to fit: include some in the Data tab")
        self.calculator, loss = fc.build_loss(self.model, configs, self.fit_settings())
        # what the run store records for this fit: the set-up that reruns it, the test split
        loss.run_setup, loss.run_test_configs = self.to_config(), self.state.test_configs()
        return loss

    def make_training(self, method: str, options: dict, status=None):
        """A TrainingSession of the current (torch) model over the included training
        configurations; runs in the monitor's background thread (fingerprints)."""
        settings = self.fit_settings()
        return self.training.session(self.model, self.browser.fit_configs(), settings,
                                     method, options, status,
                                     test_configs=self.state.test_configs())

    def default_test_split(self) -> None:
        """A network is judged on configurations it was not trained on: when the data set
        has no test configurations yet, hold out a random ``NETWORK_TEST_FRACTION`` of
        them (the Data tab's split, where it can be changed or set to 0)."""
        if not is_torch_model(self.model) or self.state.test_configs() or \
                self.browser.split_params is not None or len(self.state.configs) < 2:
            return
        self.browser.test_fraction_w.value = NETWORK_TEST_FRACTION
        self.browser.random_split(NETWORK_TEST_FRACTION, self.browser.seed_w.value)

    def _fit_finished(self, session) -> None:
        self.analysis.refresh()

    def make_calculator(self, configs):
        """A Calculator of the current model over ``configs`` (energy and forces), for the
        analyses."""
        from workbench.fit.calculator import Calculator

        calc = Calculator(self.model)
        calc.create(configs, use_energy=True, use_forces=True, use_stress=False)
        return calc

    def set_model(self, model) -> None:
        """Fit ``model`` from now on (the ModelPicker calls this)."""
        if self.monitor.running:
            self.picker.message_w.value = ('<span style="color:#c0392b">stop the running fit '
                                           'before changing the model</span>')
            return
        self.training.close()
        self.params.set_model(model)
        self.state.set_model(model)

    def restore_run(self, model, run) -> None:
        """Fit ``model`` (rebuilt from a recorded run) with the run's fit settings."""
        self.set_model(model)
        if self.state.model is not model:
            return  # a fit is running: set_model said why
        fit = {**fc.FIT_DEFAULTS, **((run.get("setup") or {}).get("fit") or {})}
        self.monitor.method_w.value = fit["method"]
        self.monitor.options_w.value = json.dumps(dict(fit["options"] or {}))
        self.residual_w.value = fit["residual"] or "default"
        self.normalize_w.value = bool(fit["normalize_by_natoms"])
        self.use_energy_w.value = bool(fit["use_energy"])
        self.use_forces_w.value = bool(fit["use_forces"])
        self.use_stress_w.value = bool(fit["use_stress"])

    def _on_tab(self, change) -> None:
        panel = self.tabs.children[change["new"]] if change["new"] is not None else None
        if panel is not None and panel is not self.fit_tab:
            # the Fit tab's figures were drawn on screen with the Workbench and follow
            # the window; the other tabs' are drawn when they are shown
            self.fresh_figures([panel])

    def fresh_figures(self, shown) -> None:
        """New figures for the panels in ``shown``, drawn from the state: plotly sizes a
        figure to its container only when it is drawn, so a figure drawn in a hidden tab
        (or before the window was resized) would keep a wrong width."""
        below = set()
        for widget in shown:
            below.update(id(x) for x in widgets_in(widget))
        if id(self.monitor) in below:
            self.monitor.new_figures()
            self.monitor.redraw()
        if id(self.browser) in below:
            self.browser.hist_fig = None
            self.browser.show_figures()
        if id(self.weights) in below:
            self.weights.preview = None
            self.weights.show_figures()
        self.analysis.visible = id(self.analysis) in below
        if self.analysis.visible:
            self.analysis.redraw()
        # once the page has drawn them, let plotly size the new figures to their boxes
        resize_later([f for widget in shown for f in figures_in(widget)])

    def _model_changed(self, change) -> None:
        if self.params.model is not change["new"]:
            self.training.close()
            self.params.set_model(change["new"])
        self.default_test_split()

    def _watch_job(self, change) -> None:
        """The title follows the current job's state (running, finished, ...)."""
        if self._job_observed is not None:
            self._job_observed.unobserve(self._job_state, "state")
        self._job_observed = change["new"]
        if change["new"] is not None:
            change["new"].observe(self._job_state, "state")

    def _job_state(self, change) -> None:
        self._update_title()

    def _update_title(self) -> None:
        job = self.state.job
        text = page_title(self.model, len(self.state.configs), len(self.state.fit_configs()),
                          None if job is None else job.state)
        self.title_w.value = (f"<h3 style='margin:4px 0'>{escape_html(text)}</h3>")

    # ---------------------------------------------------------------- config files
    def to_config(self, path=None) -> dict:
        """The whole set-up as a fit config mapping (written to ``path`` if given)."""
        configs = self.browser.configs
        root_dir = self.weights.root
        data = {"path": self.data_name, "weight": self.weights.spec()}
        if self.weights.rules:
            data["per_config"] = [dict(r) for r in self.weights.rules]
        excluded = [fc.relative_identifier(c, root_dir)
                    for c, inc in zip(configs, self.state.included) if not inc]
        if excluded:
            data["exclude"] = excluded
        if self.browser.split_params is not None:
            data["test_fraction"] = self.browser.split_params["fraction"]
            data["seed"] = self.browser.split_params["seed"]
        model = (network_section(self.model) if is_torch_model(self.model)
                 else fc.model_section(self.model))
        cfg = {"dataset": data, "model": model, "fit": self.fit_settings()}
        if self.output:
            cfg["output"] = dict(self.output)
        if path is not None:
            fc.write_config(path, cfg)
        return cfg

    @classmethod
    def from_config(cls, source) -> "Workbench":
        """A Workbench from a fit config (path, YAML text or mapping)."""
        cfg = fc.load_config(source)
        ds, _root, excluded, test = fc.build_dataset(cfg)
        net = cfg.section("model").get("network")
        if net is not None:
            model = fc.build_network_model(cfg)
        else:
            model = fc.build_model(cfg)
        sec = cfg.section("dataset")
        wb = cls(ds, model, fit=cfg.section("fit"), weight=sec.get("weight"),
                 weight_rules=sec.get("per_config"), output=cfg.section("output"))
        if excluded:
            wb.browser.set_included(excluded, False)
        if test:
            wb.browser.random_split(float(sec["test_fraction"]), int(sec.get("seed", 0)))
        return wb


def _residual_names() -> list[str]:
    from workbench.fit.residuals import RESIDUALS_BY_NAME

    return list(RESIDUALS_BY_NAME)
