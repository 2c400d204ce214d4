"""The project's exception hierarchy.

Every error a user can trigger with bad input is one of these, and its message names the
file and line, the configuration, or the parameter at fault and says what was expected.
They subclass the matching builtin (ValueError, RuntimeError, ...) so generic handlers keep
working.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of all errors raised by the workbench."""


class DatasetError(WorkbenchError, ValueError):
    """Malformed or inconsistent training data.

    ``path`` and ``line`` (1-based) locate the problem when it comes from a file.
    """

    def __init__(self, message: str, path=None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}, line {line}"
            where += ": "
        super().__init__(where + message)
        self.reason = message


class DatasetErrors(DatasetError):
    """Several files of a directory failed; ``errors`` lists each one."""

    def __init__(self, errors: list[DatasetError]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        WorkbenchError.__init__(
            self, f"{len(self.errors)} file(s) could not be read:\n{lines}"
        )
        self.path = None
        self.line = None
        self.reason = str(self)


class ParameterError(WorkbenchError, ValueError):
    """A model parameter was given a bad name, shape, value, bound or transform."""


class ModelError(WorkbenchError, RuntimeError):
    """A model cannot be built, found, loaded or evaluated."""


class ModelBusyError(ModelError):
    """A running fit owns the model: another fit or a parameter change was refused."""


class KIMError(ModelError):
    """kim-api / kimpy refused an operation (missing model, immutable parameter, ...)."""


class EngineError(WorkbenchError, RuntimeError):
    """The numba engine was given inputs it cannot handle (e.g. overflowing neighbor list)."""


class LossError(WorkbenchError, ValueError):
    """A Loss or optimizer was configured inconsistently."""


class ClusterError(LossError):
    """A distributed evaluation cannot go on (every worker holding data is gone); names
    what was lost.  Ends a fit as "stopped" with the best parameters found."""


class ConfigFileError(WorkbenchError, ValueError):
    """A YAML set-up file (fit config, saved model) is malformed; names key and line."""


class PluginError(WorkbenchError, ImportError):
    """A plugin entry point could not be loaded; names the entry point."""
