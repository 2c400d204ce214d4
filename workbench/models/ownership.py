"""Who may change a model's parameters while a fit runs.

A fit (``Loss.minimize``, ``FitSession``) *claims* its model for the threads that run it.
While the claim holds, every parameter change from any other thread (``set_params`` from a
notebook cell, ``set_opt_params``, ``update_model_params`` of a second fit, loading a file
into the model) raises :class:`~workbench.errors.ModelBusyError` instead of silently moving
the point the optimizer is evaluating, and a second claim (two fits on one model) is
refused the same way.  Reading parameters stays free.

The registry is module-level (a weak mapping keyed by the model) rather than a lock on
the model, so models stay picklable and deep-copyable (Dask ships them to workers).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass, field

from workbench.errors import ModelBusyError

_LOCK = threading.Lock()
_LEASES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class Lease:
    """One fit's claim on a model: its label and the threads allowed to change it."""

    label: str
    threads: set = field(default_factory=set)

    def allow_current_thread(self) -> None:
        self.threads.add(threading.get_ident())


def _name(model) -> str:
    return str(getattr(model, "model_name", None) or type(model).__name__)


def claim(model, label: str, *, this_thread: bool = True) -> Lease:
    """Claim ``model`` for the fit ``label``; ModelBusyError if another fit holds it."""
    with _LOCK:
        held = _LEASES.get(model)
        if held is not None:
            raise ModelBusyError(
                f"model {_name(model)} is already being fitted by {held.label}; two fits "
                "cannot share one model: stop that fit first (session.stop(); "
                "session.wait()), or fit a copy of the model")
        lease = Lease(label)
        if this_thread:
            lease.allow_current_thread()
        _LEASES[model] = lease
        return lease


def claim_all(models, label: str) -> list:
    """Claim every one of ``models`` for the fit ``label``, for no thread yet (the fit's
    worker adds itself); all or none: ModelBusyError with none claimed.  Returns the
    ``(model, lease)`` pairs for :func:`release_all`."""
    leases: list = []
    try:
        for model in models:
            leases.append((model, claim(model, label, this_thread=False)))
    except BaseException:
        release_all(leases)
        raise
    return leases


def release_all(leases) -> None:
    """End every ``(model, lease)`` of :func:`claim_all`."""
    for model, lease in leases:
        release(model, lease)


def release(model, lease: Lease) -> None:
    """End ``lease`` (a no-op if it no longer holds the model)."""
    with _LOCK:
        if _LEASES.get(model) is lease:
            del _LEASES[model]


def holder(model) -> Lease | None:
    """The lease currently held on ``model`` (None when no fit owns it)."""
    with _LOCK:
        return _LEASES.get(model)


def check_mutable(model, what: str) -> None:
    """Raise ModelBusyError if a fit owns ``model`` and this is not one of its threads."""
    lease = _LEASES.get(model)
    if lease is None or threading.get_ident() in lease.threads:
        return
    raise ModelBusyError(
        f"cannot {what} of model {_name(model)}: it is being fitted by {lease.label}; "
        "stop the fit first (session.stop(); session.wait()) or wait until it ends")


@contextlib.contextmanager
def owned(model, label: str):
    """``with owned(model, "Loss.minimize"):`` the calling thread's fit owns ``model``."""
    lease = claim(model, label)
    try:
        yield lease
    finally:
        release(model, lease)
