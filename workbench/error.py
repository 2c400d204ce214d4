"""KLIFF's ``kliff.error`` names, as subclasses of :class:`workbench.errors.WorkbenchError`."""

from workbench.errors import WorkbenchError


class InputError(WorkbenchError, ValueError):
    """A bad argument or input value."""


class KeyNotFoundError(WorkbenchError, KeyError):
    """A key that a mapping or a file should have is missing."""


def report_import_error(package, classname=None):
    """Raise an ImportError saying which package ``classname`` (or the caller) needs."""
    who = f"`{classname}`" if classname else "this feature"
    raise ImportError(f"{package} is needed by {who}; install it with `pip install {package}`")
