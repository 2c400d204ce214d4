"""KLIFF's ``kliff.log``: ``set_logger`` and ``get_log_level`` over the standard
:mod:`logging` package (KLIFF uses loguru; the calls and levels are the same).

Everything the package logs goes through loggers named ``workbench.*``; ``set_logger``
sets their level and adds (once) a handler writing to standard error.
"""

from __future__ import annotations

import logging
import sys

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ROOT = "workbench"


class _StderrHandler(logging.StreamHandler):
    """Marks the handler set_logger added (so a second call replaces it)."""


def set_logger(level: str = "INFO", stderr: bool = True) -> None:
    """Log at ``level`` (DEBUG, INFO, WARNING, ERROR, CRITICAL), to stderr if ``stderr``."""
    name = str(level).upper()
    if name not in _LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(_LEVELS)}")
    logger = logging.getLogger(_ROOT)
    logger.setLevel(name)
    for h in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(h)
    if stderr:
        handler = _StderrHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s | %(levelname)s | %(name)s:%(funcName)s:%(lineno)d - %(message)s"))
        logger.addHandler(handler)


def get_log_level() -> str | None:
    """The level set on the package's loggers (None when never set)."""
    level = logging.getLogger(_ROOT).level
    return logging.getLevelName(level) if level else None
