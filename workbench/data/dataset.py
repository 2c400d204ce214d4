"""A set of configurations read from a file or a directory tree (KLIFF's ``Dataset``)."""

from __future__ import annotations

import logging
import os
from fnmatch import fnmatchcase
from pathlib import Path

from workbench.errors import DatasetError, DatasetErrors

from .ase_io import PATTERNS, configs_with_ase
from .configuration import Configuration
from .extxyz import read_extxyz_frames, write_extxyz

log = logging.getLogger(__name__)


def read_config(path, weight=None) -> Configuration:
    """Read one configuration from a KLIFF extended-XYZ file."""
    return Configuration.from_file(path, weight=weight)


def write_config(path, config: Configuration) -> None:
    """Write ``config`` atomically; :func:`read_config` gives back identical arrays."""
    write_extxyz(path, config.cell, config.species, config.coords, config.PBC,
                 config.energy, config.forces, config.stress)


def find_files(path, file_format="xyz") -> list[Path]:
    """Files of ``file_format`` under ``path`` (recursive), in sorted, deterministic order.
    Hidden files and directories are skipped; a symbolic link that cannot be resolved (a
    loop) raises :class:`DatasetError`."""
    files, problems = _find_file_names(path, file_format, with_problems=True)
    if problems:
        raise problems[0] if len(problems) == 1 else DatasetErrors(problems)
    return [Path(f) for f in files]


def _find_file_names(path, file_format="xyz", with_problems=False):
    """:func:`find_files` as strings (``str(Path)`` of each), without building Paths; with
    ``with_problems`` also the DatasetErrors of entries that could not be resolved.

    Same rules as ``Path.rglob`` for each pattern: names matched case-sensitively,
    symlinked files included, symlinked directories not entered; sorted like Paths
    (component by component)."""
    path = Path(path)
    problems: list[DatasetError] = []
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except OSError as exc:
        raise _link_error(path, exc) from None
    if is_file:
        found = [str(path)]
    elif not is_dir:
        if path.is_symlink():
            raise _link_error(path, None)
        raise DatasetError("no such file or directory", path)
    else:
        patterns = PATTERNS.get(file_format, ("*",))
        base = str(path)
        prefix = "" if base == "." else os.path.join(base, "")
        parts: list = []
        _walk(prefix, (), patterns, parts, problems)
        parts.sort()
        found = [prefix + "/".join(p) for p in parts]
    return (found, problems) if with_problems else found


def _link_error(path, exc):
    why = "a symbolic link loop" if exc is None or exc.errno == 40 else exc.strerror
    return DatasetError(f"cannot resolve the symbolic link ({why}); expected a link to an "
                        "existing file or directory", path)


def _walk(prefix, rel, patterns, found, problems):
    try:
        with os.scandir(prefix + "".join(p + "/" for p in rel) or ".") as it:
            entries = list(it)
    except (PermissionError, FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                _walk(prefix, rel + (name,), patterns, found, problems)
            elif any(fnmatchcase(name, pat) for pat in patterns):
                if entry.is_file():
                    found.append(rel + (name,))
                elif entry.is_symlink() and not os.path.exists(entry.path):
                    problems.append(_link_error(entry.path, None))
        except OSError as exc:  # e.g. a symbolic link loop
            problems.append(_link_error(entry.path, exc))


class Dataset:
    """Configurations from ``path`` (a file or a directory searched recursively).

    ``file_format``: ``"xyz"`` (the fast built-in extended-XYZ reader), ``"ase"`` (ASE
    guesses the format) or an ASE format name such as ``"extxyz"``, ``"vasp-out"``,
    ``"vasp-xml"``, ``"espresso-out"``.  ``on_error``: ``"raise"`` collects every bad file
    of a directory and raises one :class:`DatasetErrors`; ``"skip"`` leaves them out,
    records them in ``self.skipped`` (a list of :class:`DatasetError`) and logs a warning.
    """

    def __init__(self, path=None, weight=None, file_format="xyz", on_error="raise"):
        if on_error not in ("raise", "skip"):
            raise DatasetError(f"on_error={on_error!r}; expected 'raise' or 'skip'")
        self.file_format = file_format
        self.on_error = on_error
        self.configs: list[Configuration] = []
        self.skipped: list[DatasetError] = []
        if path is not None:
            self.add_configs(path, weight)

    # -- building ------------------------------------------------------------------------
    def _read_file(self, f, weight):
        """The configurations of one file; a file of several frames gives identifiers
        ``path@k`` (k from 0), and its errors say "frame k"."""
        if self.file_format == "xyz":
            frames = read_extxyz_frames(f)
            many = len(frames) > 1
            return [Configuration(weight=weight, identifier=f"{f}@{k}" if many else str(f),
                                  path=f, **d) for k, d in enumerate(frames)]
        return configs_with_ase(f, self.file_format, weight)

    def add_configs(self, path, weight=None) -> list[Configuration]:
        """Read ``path`` and append its configurations; returns the new ones."""
        files, errors = _find_file_names(path, self.file_format, with_problems=True)
        new = []
        if self.file_format == "xyz":
            from ._batchread import read_configs
            fast = read_configs(files, weight)
        else:
            fast = [None] * len(files)
        for f, got in zip(files, fast):
            if got is None:
                try:
                    new.extend(self._read_file(Path(f), weight))
                except DatasetError as exc:
                    errors.append(exc)
            elif isinstance(got, DatasetError):
                errors.append(got)
            else:
                new.append(got)
        if errors:
            if self.on_error == "raise":
                if len(errors) == 1 and len(files) <= 1:
                    raise errors[0]
                raise DatasetErrors(errors)
            self.skipped.extend(errors)
            log.warning("skipped %d unreadable file(s) under %s:\n%s", len(errors), path,
                        "\n".join(f"  - {e}" for e in errors))
        if not files:
            log.warning("no %s files found under %s", self.file_format, path)
        self.configs.extend(new)
        return new

    def add(self, configs) -> None:
        """Append configurations (an iterable of them) to the data set; an unnamed one is
        named ``config_<k>`` by its index k in the data set (never left as None)."""
        start = len(self.configs)
        self.configs.extend(configs)
        for k, c in enumerate(self.configs[start:], start):
            if getattr(c, "identifier", "") is None:
                c.identifier = f"config_{k}"

    @classmethod
    def from_configs(cls, configs) -> "Dataset":
        """A data set holding the given Configuration objects (not copied)."""
        ds = cls()
        ds.add(configs)
        return ds

    @classmethod
    def from_ase(cls, atoms_list, weight=None) -> "Dataset":
        """A data set from ``ase.Atoms`` objects (identifiers ``atoms_<i>`` unless the atoms
        carry ``info['identifier']``)."""
        ds = cls(file_format="ase")
        for k, atoms in enumerate(atoms_list):
            ident = atoms.info.get("identifier", f"atoms_{k}")
            ds.configs.append(Configuration.from_ase(atoms, weight=weight, identifier=ident))
        return ds

    def apply_weights_file(self, path) -> int:
        """Per-configuration weights from a file (format: :mod:`workbench.data.weight`)."""
        from .weight import apply_weights_file
        return apply_weights_file(self.configs, path)

    # -- access --------------------------------------------------------------------------
    def get_configs(self) -> list[Configuration]:
        """The configurations, in the order they were read (a list; not a copy)."""
        return self.configs

    def get_num_configs(self) -> int:
        """The number of configurations in the data set."""
        return len(self.configs)

    def __len__(self):
        return len(self.configs)

    def __iter__(self):
        return iter(self.configs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Dataset.from_configs(self.configs[index])
        return self.configs[index]

    def __repr__(self):
        return f"Dataset({len(self.configs)} configurations)"
