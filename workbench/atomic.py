"""Atomic file writes: nothing the user made is half-overwritten.

Data goes to a temporary file in the target's folder, is flushed to disk, then renamed over
the target (``os.replace`` is atomic on POSIX); on any error the temporary file is removed
and the old target is untouched.  The new file gets the usual permissions (0666 minus the
umask), not the private 0600 of a temporary file: the temporary file is created with mode
0666 and the kernel applies the umask, so the process umask is never read by setting it
(which would briefly change it for every thread).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def _create_temporary(folder: Path, name: str) -> tuple[int, str]:
    """A new file ``.NAME.<random>.tmp`` in ``folder`` opened for writing, created with mode
    0666 so that the umask alone decides its permissions."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = str(folder / f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {folder / name}")


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", encoding: str | None = None):
    """``with atomic_open(path, "wb") as fh:`` — the file appears at ``path`` only when the
    block finishes without error.  Streams, so large files need no extra memory."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.name)
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode(encoding))
