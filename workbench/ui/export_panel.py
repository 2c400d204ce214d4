"""ExportPanel: the fitted model and its set-up as ordinary browser downloads.

"Prepare files" writes, in a background thread and in a temporary folder: the KIM
portable model directory (zipped; ``kim-api-collections-management install user
NAME.zip`` after unzipping, or LAMMPS/ASE through kim-api), the model file
(``Model.save`` YAML, or a network's ``.pkl``), the set-up YAML (``workbench fit`` reruns
it) and the HTML report.  Each becomes a link with a ``data:`` URL and a ``download``
name, which JupyterLab and Voila pages alike hand to the browser's own download (no
server-side file, nothing for a student to find on the server).
"""

from __future__ import annotations

import base64
import io
import re
import tempfile
import threading
import traceback
import zipfile
from pathlib import Path

import ipywidgets as w
import numpy as np

from workbench.errors import WorkbenchError
from workbench.ui.names import escape_html, model_title

MIME = {".zip": "application/zip", ".yaml": "application/x-yaml",
        ".html": "text/html", ".pkl": "application/octet-stream"}


def kim_name(model) -> str:
    """A valid KIM model name for a fitted ``model``, e.g.
    ``StillingerWeber_fitted_Si__MO_000000000000_000``."""
    species = "".join(getattr(model, "species", None) or ())
    if getattr(model, "is_torch", False):
        species = "".join(getattr(getattr(model, "descriptor", None), "species", None) or ())
    base = re.sub(r"[^A-Za-z0-9_]", "_", f"{type(model).__name__}_fitted_{species}")
    return f"{base.strip('_')}__MO_000000000000_000"


def zip_directory(path: Path) -> bytes:
    """The directory ``path`` as a zip archive (entries under its own name)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(path.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(path.parent).as_posix())
    return buf.getvalue()


def download_link(name: str, data: bytes, label: str, css: str) -> str:
    mime = MIME.get(Path(name).suffix, "application/octet-stream")
    href = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    size = f"{len(data) / 1024:.1f} KB"
    return (f'<a class="wb-download {css}" download="{name}" href="{href}" '
            f'style="margin-right:1.5em">⬇ {label} <small>({name}, {size})</small></a>')


def predictions_from_analysis(result) -> list:
    """``workbench.fit.report.Predictions`` per split from an analysis result (no new
    evaluation)."""
    from workbench.fit.report import Predictions

    out = []
    for label, part in result["parts"].items():
        natoms = np.diff(part["atom_offsets"]).astype(float)
        out.append(Predictions(label, [str(i) for i in part["index"]], natoms,
                               np.asarray(part["pred_e"]) * natoms,
                               np.asarray(part["ref_e"]) * natoms,
                               np.asarray(part["pred_f"]).reshape(-1, 3),
                               np.asarray(part["ref_f"]).reshape(-1, 3)))
    return out


class ExportPanel:
    """The Export tab. ``to_config()`` gives the set-up mapping of the workbench."""

    title = "Export"

    def __init__(self, state, to_config):
        self.state = state
        self.to_config = to_config
        self.files: dict[str, bytes] = {}
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self.prepare_w = w.Button(description="Prepare files", icon="download",
                                  button_style="primary",
                                  tooltip="write the KIM model, the model file, the set-up "
                                          "YAML and the report of the current model; they "
                                          "then appear as download links")
        self.prepare_w.add_class("wb-export-prepare")
        self.status_w = w.HTML()
        self.status_w.add_class("wb-export-status")
        self.links_w = w.HTML()
        self.links_w.add_class("wb-export-links")
        self.prepare_w.on_click(lambda _: self.prepare())
        help_text = (
            "<p>Files of the <b>current model and set-up</b>: the <b>KIM model</b> (a zip "
            "of a KIM portable model directory: unzip it and run "
            "<code>kim-api-collections-management install user DIRECTORY</code>, then "
            "LAMMPS and ASE can use it), the <b>model file</b> (loads back into the "
            "workbench), the <b>set-up</b> (<code>workbench fit setup.yaml</code> reruns "
            "this fit without a browser) and the <b>report</b> (an HTML page with the "
            "loss curve and the errors).</p>")
        self.widget = w.VBox([w.HTML(help_text), w.HBox([self.prepare_w, self.status_w]),
                              self.links_w])
        self.widget.add_class("wb-export")
        state.observe(self._stale, ["model", "params_revision"])

    def _stale(self, change) -> None:
        if self.links_w.value:
            self.links_w.value = ""
            self.status_w.value = "<i>the model changed: prepare the files again</i>"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def prepare(self) -> None:
        if self.running:
            return
        job = self.state.job
        if job is not None and not job.terminal:
            self.status_w.value = "<i>a fit is running: export when it has ended</i>"
            return
        self.prepare_w.disabled = True
        self.status_w.value = "writing the files…"
        self.links_w.value = ""
        self._thread = threading.Thread(target=self._run, daemon=True, name="ExportPanel")
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self) -> None:
        try:
            files, problems = self.build()
        except Exception as exc:  # shown; the panel stays usable
            self.error = f"{type(exc).__name__}: {exc}"
            self._trace = traceback.format_exc()
            self.status_w.value = (f'<span style="color:#c0392b">export failed: '
                                   f'{escape_html(self.error)}</span>')
        else:
            self.files = files
            links = [download_link(name, data, label, css)
                     for label, css, name, data in files.values()]
            self.links_w.value = "<p>" + "<br>".join(links) + "</p>"
            note = "".join(f"<br><span style='color:#c0392b'>{escape_html(p)}</span>"
                           for p in problems)
            self.status_w.value = f"files of {escape_html(model_title(self.state.model))}{note}"
        finally:
            self.prepare_w.disabled = False

    def build(self) -> tuple[dict, list[str]]:
        """label -> (label, css class, file name, bytes), and what could not be written."""
        from workbench.fit.setup_file import dump_config

        model = self.state.model
        files, problems = {}, []
        with tempfile.TemporaryDirectory(prefix="workbench-export-") as tmp:
            tmp = Path(tmp)
            name = kim_name(model)
            try:
                kim_dir = model.write_kim_model(tmp / name)
                files["kim"] = ("KIM model", "wb-download-kim", f"{name}.zip",
                                zip_directory(Path(kim_dir)))
            except WorkbenchError as exc:
                problems.append(f"KIM model: {exc}")
            torch = bool(getattr(model, "is_torch", False))
            model_file = tmp / ("model.pkl" if torch else "model.yaml")
            model.save(model_file)
            files["model"] = ("model file", "wb-download-model", model_file.name,
                              model_file.read_bytes())
            files["setup"] = ("set-up", "wb-download-setup", "setup.yaml",
                              dump_config(self.to_config()).encode())
            report = self._report(tmp / "report.html", problems)
            if report is not None:
                files["report"] = ("report", "wb-download-report", "report.html",
                                   report.read_bytes())
        return files, problems

    def _report(self, path: Path, problems: list[str]):
        from workbench.fit.report import predictions, write_report

        state = self.state
        analysis = state.analysis
        if analysis is not None and analysis.result is not None and state.is_current(analysis):
            splits = predictions_from_analysis(analysis.result)
        elif getattr(state.model, "is_torch", False):
            problems.append("report: analyze the network first (Analysis tab, Refresh)")
            return None
        else:
            splits = [predictions("train", state.model, state.fit_configs()),
                      predictions("test", state.model, state.test_configs())]
        job = state.job
        history = [] if job is None else job.loss_history()
        lines = [f"model: {model_title(state.model)}",
                 f"configurations: {len(state.configs)} ({len(state.fit_configs())} fitted)"]
        if job is not None and job.terminal:
            from workbench.ui.names import stop_reason

            lines.append(f"fit: {job.state}; {stop_reason(job.message)}")
        return write_report(path, f"Fit of {model_title(state.model)}", history, splits, lines)
