"""The run store: every fit and training recorded in SQLite, compared and restored.

``RunStore(path)`` opens (or creates) a store directory; ``default_store()`` is the one
sessions use unless given ``store=`` (``$WORKBENCH_RUNS`` or ``./workbench-runs``).
Sessions (``FitSession``, ``TrainingSession``, bootstrap/MCMC jobs) take ``store=``
(``None`` disables recording) and expose ``session.run_id``.
"""

from .recorder import RunRecorder
from .store import (
    DEFAULT,
    STATUSES,
    RunStore,
    RunStoreError,
    default_store,
    open_store,
    resolve_store,
)

__all__ = ["DEFAULT", "STATUSES", "RunRecorder", "RunStore", "RunStoreError",
           "default_store", "open_store", "resolve_store"]
