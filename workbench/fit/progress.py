"""A tqdm progress bar fed by ``FitSession`` events (what ``workbench fit`` shows)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from .events import FitEvent


class TqdmReporter:
    """Subscriber drawing a progress bar: ``session.subscribe(TqdmReporter(total=max_iter))``.

    The bar counts iterations (open-ended when ``total`` is None) and shows the current and
    best loss, evaluations and non-finite steps; it closes on the terminal event and prints
    its reason. Extra keyword arguments go to ``tqdm`` (e.g. ``file``, ``disable``).
    """

    def __init__(self, total: int | None = None, desc: str = "fit", **tqdm_kwargs):
        tqdm_kwargs.setdefault("file", sys.stderr)
        tqdm_kwargs.setdefault("unit", "it")
        tqdm_kwargs.setdefault("dynamic_ncols", True)
        self.bar = tqdm(total=total, desc=desc, **tqdm_kwargs)
        self.n_bad = 0
        self.closed = False
        self.final_event: FitEvent | None = None

    def __call__(self, event: FitEvent):
        if self.closed:
            return
        if event.kind == "bad_step":
            self.n_bad += 1
        postfix = {}
        if event.loss is not None:
            postfix["loss"] = f"{event.loss:.6g}"
        if event.best_loss is not None:
            postfix["best"] = f"{event.best_loss:.6g}"
        postfix["evals"] = event.n_eval
        if self.n_bad:
            postfix["bad"] = self.n_bad
        if event.kind not in ("iteration", "bad_step"):
            postfix["state"] = event.kind
        self.bar.set_postfix(postfix, refresh=False)
        if event.iteration > self.bar.n:
            self.bar.update(event.iteration - self.bar.n)
        else:
            self.bar.refresh()
        if event.terminal:
            self.final_event = event
            self.bar.close()
            self.closed = True
            first_line = event.message.splitlines()[0] if event.message else ""
            tqdm.write(f"fit {event.kind}: {first_line}", file=self.bar.fp)

    def close(self):
        if not self.closed:
            self.bar.close()
            self.closed = True
