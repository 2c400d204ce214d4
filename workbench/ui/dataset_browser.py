"""DatasetBrowser: a sortable, filterable table of the configurations of a data set.

Selecting rows shows them in an nglview viewer (cell, atoms coloured by element, optional
force arrows) with a slider through the selection; histograms show energies per atom and
force components; buttons include or exclude configurations from the fit and draw a
train/test split.  Per-configuration numbers are computed once, with numpy, when the data
set is loaded (and the weight column again when weights change).
"""

from __future__ import annotations

import fnmatch
import os
import re

import ipywidgets as w
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.errors import DatasetError
from workbench.ui.names import escape_html
from workbench.ui.figures import show_in
from workbench.ui.structure_view import StructureView

COLUMNS = ("identifier", "atoms", "species", "energy/atom", "max |F|", "weight", "set",
           "fit")
SORT_KEYS = {"identifier": "identifier", "atoms": "atoms", "energy/atom": "energy_per_atom",
             "max |F|": "max_force", "weight": "weight", "set": "split"}

_STYLE = """<style>
.wb-config-table select { font-family: monospace; font-size: 12px; }
.wb-invalid input { border-color: #c0392b !important; background: #fdecea; }
</style>"""


def short_names(identifiers: list[str]) -> list[str]:
    """Identifiers without their common directory prefix."""
    if not identifiers:
        return []
    try:
        root = os.path.commonpath(identifiers)
    except ValueError:
        return list(identifiers)
    if root in identifiers:  # one configuration, or an identifier that is a directory
        root = os.path.dirname(root)
    cut = len(root) + 1 if root else 0
    return [s[cut:] for s in identifiers]


def natural_key(text: str) -> str:
    """``text`` with every run of digits zero-padded, so that a plain string sort puts
    step100 before step1000 and step2 before step10."""
    return re.sub(r"\d+", lambda m: m.group(0).zfill(20), str(text))


def config_table(configs) -> pd.DataFrame:
    """One row per configuration with the browser's columns."""
    idents = [str(c.identifier) if c.identifier is not None else f"config {k}"
              for k, c in enumerate(configs)]
    natoms = np.array([c.get_num_atoms() for c in configs], dtype=int)
    energy = np.array([np.nan if c.energy is None else c.energy for c in configs])
    maxf = np.array([np.nan if c.forces is None else
                     float(np.sqrt((np.asarray(c.forces) ** 2).sum(axis=1).max()))
                     if c.get_num_atoms() else 0.0 for c in configs])
    species = [",".join(sorted(set(c.species))) for c in configs]
    return pd.DataFrame({
        "identifier": short_names(idents), "atoms": natoms, "species": species,
        "energy_per_atom": energy / np.maximum(natoms, 1), "max_force": maxf,
        "weight": [float(np.mean(c.config_weight)) for c in configs],
        "split": "train", "included": True,
    })


class DatasetBrowser(w.VBox):
    """Browse ``dataset`` (a Dataset or a list of Configurations).

    ``included`` and ``split`` (per configuration, in data-set order) decide what the fit
    uses: :meth:`fit_configs` returns the included training configurations.
    ``on_change()`` is called after include/exclude or split changes.
    """

    def __init__(self, dataset, on_change=None, rows: int = 14, lazy_figures: bool = False,
                 state=None, **kwargs):
        from workbench.ui.state import WorkbenchState

        super().__init__(**kwargs)
        self.add_class("wb-dataset-browser")
        self.dataset = dataset
        configs = list(dataset.get_configs() if hasattr(dataset, "get_configs") else dataset)
        # the data set, what is fitted and the selection live in the shared state; the
        # table below is only this panel's rendering of it
        self.state = state if state is not None else WorkbenchState(configs)
        self.configs = self.state.configs
        self.on_change = on_change
        self.table = config_table(self.configs)
        self.table["included"] = list(self.state.included)
        self.table["split"] = list(self.state.split)
        self.split_params: dict | None = None
        self._syncing = False

        self.filter_w = w.Text(placeholder="filter identifiers: text or glob (*T300*)",
                               continuous_update=False, layout=w.Layout(width="320px"))
        self.sort_w = w.Dropdown(options=list(SORT_KEYS), value="identifier",
                                 description="sort by", layout=w.Layout(width="220px"))
        self.desc_w = w.Checkbox(value=False, description="descending", indent=False)
        self.table_w = w.SelectMultiple(options=[], rows=rows,
                                        layout=w.Layout(width="100%"))
        self.table_w.add_class("wb-config-table")
        self.count_w = w.HTML()
        self.include_w = w.Button(description="Include", icon="check")
        self.exclude_w = w.Button(description="Exclude", icon="times")
        self.test_fraction_w = w.BoundedFloatText(value=0.0, min=0.0, max=0.9, step=0.05,
                                                  description="test fraction",
                                                  layout=w.Layout(width="200px"))
        self.seed_w = w.IntText(value=0, description="seed", layout=w.Layout(width="140px"))
        self.split_w = w.Button(description="Split", icon="random")
        self.frame_w = w.IntSlider(value=0, min=0, max=0, description="frame",
                                   continuous_update=False)
        self.frame_w.add_class("wb-frame")
        self.info_w = w.HTML()
        self.structure = StructureView(self.state, layout=w.Layout(width="100%"))
        self.hist_fig = None
        self.hist_box = w.Box(layout=w.Layout(flex="1 1 460px", min_width="0"))
        self.hist_box.add_class("wb-figure")
        for wid, tip in (
                (self.filter_w, "show only configurations whose identifier contains this "
                                "text or matches this glob pattern (e.g. *T300*)"),
                (self.sort_w, "order the table by this column; numbers inside identifiers "
                              "sort by value (step2 before step10)"),
                (self.desc_w, "largest first instead of smallest first"),
                (self.table_w, "the configurations; select rows (Shift/Ctrl for several) to "
                               "view one below or to include, exclude or weight them"),
                (self.include_w, "fit the selected configurations again"),
                (self.exclude_w, "leave the selected configurations out of the fit (they "
                                 "stay in the data set, e.g. outliers you want to keep)"),
                (self.test_fraction_w, "share of the configurations held out as a test set "
                                       "(never fitted, used to check the fit); 0: fit all. "
                                       "Press Split to apply"),
                (self.seed_w, "random seed of the split: the same seed gives the same test "
                              "set"),
                (self.split_w, "draw a new random train/test split with this test fraction "
                               "and seed"),
                (self.frame_w, "the configuration shown in the 3D view (position in the "
                               "filtered, sorted table)")):
            wid.tooltip = tip

        self.filter_w.observe(lambda _: self.refresh_table(), "value")
        self.sort_w.observe(lambda _: self.refresh_table(), "value")
        self.desc_w.observe(lambda _: self.refresh_table(), "value")
        self.table_w.observe(self._on_select, "value")
        self.state.observe(self._on_state_membership, ["included", "split"])
        self.state.observe(self._on_state_selection, "selection")
        self.frame_w.observe(lambda _: self.show_frame(), "value")
        self.include_w.on_click(lambda _: self.set_included(self.selected, True))
        self.exclude_w.on_click(lambda _: self.set_included(self.selected, False))
        self.split_w.on_click(lambda _: self.random_split(self.test_fraction_w.value,
                                                          self.seed_w.value))
        self.children = [
            w.HTML(_STYLE),
            w.HBox([self.filter_w, self.sort_w, self.desc_w]),
            w.HTML("<pre style='margin:0;font-size:12px'>" + self.header() + "</pre>"),
            self.table_w,
            w.HBox([self.count_w, self.include_w, self.exclude_w, self.test_fraction_w,
                    self.seed_w, self.split_w], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([w.VBox([self.frame_w, self.info_w, self.structure],
                           layout=w.Layout(flex="1 1 420px", min_width="0")), self.hist_box],
                   layout=w.Layout(flex_flow="row wrap", width="100%")),
        ]
        self.refresh_table()
        if not lazy_figures:
            self.show_figures()

    def show_figures(self) -> None:
        """Create and draw the histograms (a Workbench does this when the tab opens)."""
        if self.hist_fig is None:
            grid = make_subplots(rows=1, cols=2, horizontal_spacing=0.15)
            grid.update_layout(height=300, autosize=True, margin=dict(l=50, r=10, t=30, b=40),
                               showlegend=False, barmode="overlay",
                               xaxis=dict(title="energy per atom (eV)"),
                               xaxis2=dict(title="force component (eV/Å)"),
                               yaxis=dict(title="configurations"),
                               yaxis2=dict(title="components"))
            self.hist_fig = go.FigureWidget(grid)
            show_in(self.hist_box, [self.hist_fig])
        self.refresh_histograms()

    # ---------------------------------------------------------------- table
    @staticmethod
    def header() -> str:
        return (f"{'identifier':<40} {'atoms':>5} {'species':<8} {'energy/atom':>12} "
                f"{'max |F|':>9} {'weight':>8} {'set':<5} fit")

    def row_text(self, k: int) -> str:
        r = self.table.iloc[k]
        ident = r.identifier if len(r.identifier) <= 40 else "…" + r.identifier[-39:]
        return (f"{ident:<40} {r.atoms:>5d} {r.species:<8} {r.energy_per_atom:>12.5f} "
                f"{r.max_force:>9.4f} {r.weight:>8.3g} {r.split:<5} "
                f"{'yes' if r.included else 'no'}")

    def visible_rows(self) -> list[int]:
        """Indices (into the data set) the table shows, filtered and sorted."""
        t = self.table
        pat = self.filter_w.value.strip()
        if pat:
            if any(ch in pat for ch in "*?["):
                keep = [fnmatch.fnmatchcase(s, pat) or fnmatch.fnmatchcase(s, f"*{pat}")
                        for s in t.identifier]
            else:
                keep = [pat.lower() in s.lower() for s in t.identifier]
            t = t[np.array(keep, dtype=bool)]
        column = SORT_KEYS[self.sort_w.value]
        key = (lambda col: col.map(natural_key)) if column == "identifier" else None
        t = t.sort_values(column, ascending=not self.desc_w.value, kind="stable", key=key)
        return [int(i) for i in t.index]

    def refresh_table(self) -> None:
        rows = self.visible_rows()
        keep = [i for i in self.table_w.value if i in set(rows)]
        self._syncing = True
        try:
            with self.hold_sync():
                self.table_w.options = [(self.row_text(k), k) for k in rows]
                self.table_w.value = tuple(keep)
        finally:
            self._syncing = False
        n_fit = int((self.table.included & (self.table.split == "train")).sum())
        n_test = int((self.table.included & (self.table.split == "test")).sum())
        self.count_w.value = (f"{len(rows)} shown of {len(self.table)} · "
                              f"<b>{n_fit}</b> fitted · {n_test} test")

    def refresh_weights(self) -> None:
        """Re-read the weight column (after the WeightEditor applied weights)."""
        self.table["weight"] = [float(np.mean(c.config_weight)) for c in self.configs]
        self.refresh_table()

    # ---------------------------------------------------------------- selection
    @property
    def selected(self) -> list[int]:
        return list(self.table_w.value)

    def select(self, indices) -> None:
        """Select configurations by data-set index (clears a filter that hides them)."""
        indices = [int(i) for i in indices]
        for i in indices:
            if not 0 <= i < len(self.configs):
                raise DatasetError(f"no configuration {i}; the data set has {len(self.configs)}")
        if not set(indices) <= set(self.visible_rows()):
            self.filter_w.value = ""
        self.table_w.value = tuple(indices)

    def _on_select(self, change) -> None:
        if self._syncing:
            return
        if tuple(change["new"]) != tuple(self.state.selection):
            self.state.select(change["new"])
        n = len(self.selected)
        with self.hold_sync():
            self.frame_w.max = max(n - 1, 0)
            self.frame_w.value = 0
        self.show_frame()

    @property
    def current(self) -> int | None:
        """Data-set index of the configuration the viewer shows."""
        sel = self.selected
        if not sel:
            return None
        return sel[min(self.frame_w.value, len(sel) - 1)]

    # ---------------------------------------------------------------- viewer
    def show_frame(self) -> None:
        k = self.current
        if k is None:
            self.info_w.value = ""
            return
        r = self.table.iloc[k]
        self.info_w.value = (f"<b>{escape_html(r.identifier)}</b> · {r.atoms} atoms · "
                             f"E/atom {r.energy_per_atom:.5f} eV · max |F| {r.max_force:.4f} eV/Å")
        self.structure.show(k)

    @property
    def view(self):
        """The nglview widget (None until a configuration was shown)."""
        return self.structure.view

    # ---------------------------------------------------------------- fit membership
    def set_included(self, indices, included: bool) -> None:
        idx = list(indices)
        if not idx:
            return
        self.state.set_included(idx, included)

    def random_split(self, test_fraction: float, seed: int = 0) -> None:
        """Mark ``round(test_fraction * n)`` configurations as test (seeded permutation)."""
        from workbench.data.split import random_split

        train, _ = random_split(self.configs, fraction=1.0 - float(test_fraction), seed=int(seed))
        ids = {id(c) for c in train.get_configs()}
        self.split_params = ({"fraction": float(test_fraction), "seed": int(seed)}
                             if test_fraction > 0 else None)
        self.state.set_split(["train" if id(c) in ids else "test" for c in self.configs])

    def fit_configs(self) -> list:
        """Included training configurations, in data-set order."""
        return self.state.fit_configs()

    def test_configs(self) -> list:
        return self.state.test_configs()

    def excluded_identifiers(self) -> list[str]:
        return [str(c.identifier) for c, inc in zip(self.configs, self.table.included) if not inc]

    def _on_state_membership(self, change) -> None:
        self.table["included"] = list(self.state.included)
        self.table["split"] = list(self.state.split)
        self._changed()

    def _on_state_selection(self, change) -> None:
        if tuple(self.table_w.value) != tuple(change["new"]):
            if not set(change["new"]) <= set(self.visible_rows()):
                self.filter_w.value = ""
            self.table_w.value = tuple(change["new"])

    def _changed(self) -> None:
        self.refresh_table()
        self.refresh_histograms()
        if self.on_change is not None:
            self.on_change()

    # ---------------------------------------------------------------- histograms
    def refresh_histograms(self) -> None:
        """Energy per atom of every configuration (fitted ones highlighted) and the force
        components of the fitted ones, binned here and sent as bars."""
        if self.hist_fig is None:
            return
        e_all = self.table.energy_per_atom.to_numpy()
        fitted = (self.table.included & (self.table.split == "train")).to_numpy()
        finite = np.isfinite(e_all)
        bars = []
        if finite.any():
            edges = np.histogram_bin_edges(e_all[finite], bins=40)
            for mask, name, color in ((finite, "all", "#bbbbbb"), (finite & fitted, "fitted", "#1f77b4")):
                h, _ = np.histogram(e_all[mask], bins=edges)
                bars.append(go.Bar(x=0.5 * (edges[1:] + edges[:-1]), y=h, name=name,
                                   marker_color=color, xaxis="x", yaxis="y"))
        forces = [np.asarray(c.forces).ravel() for c, m in zip(self.configs, fitted)
                  if m and c.forces is not None]
        if forces:
            f = np.concatenate(forces)
            h, edges = np.histogram(f, bins=60)
            bars.append(go.Bar(x=0.5 * (edges[1:] + edges[:-1]), y=h, name="forces",
                               marker_color="#2ca02c", xaxis="x2", yaxis="y2"))
        with self.hist_fig.batch_update():
            self.hist_fig.data = []
            for b in bars:
                self.hist_fig.add_trace(b)
