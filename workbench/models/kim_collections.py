"""Installed OpenKIM items and private, temporary KIM collections.

kim-api looks for models and drivers in four collections: the current working
directory, the directories named by environment variables, the *user* collection (named
by the configuration file, ``~/.kim-api/<version>/config`` unless
``KIM_API_CONFIGURATION_FILE`` points elsewhere) and the *system* collection (Debian's
``openkim-models`` package lives there).

:class:`PrivateCollection` points both the configuration file and the environment
variables at a fresh temporary directory, so that models written by
:func:`workbench.models.kim_export.write_kim_model` can be built, installed, loaded through
kimpy and run in LAMMPS without touching the user's own collections.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import KIMError

COLLECTIONS_TOOL = "kim-api-collections-management"

#: The environment variables through which kim-api finds its collections.
ENV_VARIABLES = (
    "KIM_API_CONFIGURATION_FILE",
    "KIM_API_MODEL_DRIVERS_DIR",
    "KIM_API_PORTABLE_MODELS_DIR",
    "KIM_API_SIMULATOR_MODELS_DIR",
)

HOW_TO_INSTALL = (
    "List the installed models with `workbench model --list` or "
    f"`{COLLECTIONS_TOOL} list`; install one with "
    f"`{COLLECTIONS_TOOL} install user NAME` (downloads from openkim.org) or, on "
    "Debian/Ubuntu, `apt install openkim-models` for the packaged collection."
)

_ITEM_TYPES = {"portableModel", "modelDriver", "simulatorModel"}


#: What to do when kimpy is missing; every KIM entry point says the same.
KIMPY_MISSING = (
    "needs kim-api and its Python bindings kimpy, which are not installed. Install kim-api "
    "(Debian/Ubuntu: `apt install libkim-api-dev openkim-models`; conda: `conda install -c "
    "conda-forge kim-api openkim-models kimpy`), then `pip install 'potential-workbench[kim]'`. "
    "Built-in models, neural networks, SNAP fits and the validation suite work without it."
)


def _kimpy(purpose: str = "This"):
    """Import kimpy, or raise a KIMError that says how to install it."""
    try:
        import kimpy
    except ImportError as exc:
        raise KIMError(f"{purpose} {KIMPY_MISSING}") from exc
    return kimpy


def _item_type(kind: str):
    if kind not in _ITEM_TYPES:
        raise KIMError(f"unknown KIM item type {kind!r}; expected one of "
                       f"{sorted(_ITEM_TYPES)}")
    return getattr(_kimpy().collection_item_type, kind)


def list_items(kind: str = "portableModel") -> list[str]:
    """Sorted names of every installed item of ``kind`` across all collections.

    ``kind`` is ``"portableModel"``, ``"modelDriver"`` or ``"simulatorModel"``.  Uses
    kimpy's Collections; falls back to parsing ``kim-api-collections-management list``.
    """
    item_type = _item_type(kind)
    try:
        kimpy = _kimpy()
        col = kimpy.collections.create()
        n = col.cache_list_of_item_names_by_type(item_type)
        return sorted({col.get_item_name_by_type(i) for i in range(n)})
    except (RuntimeError, KIMError):
        return _list_items_cli(kind)


def list_models() -> list[str]:
    """Installed portable models (all collections)."""
    return list_items("portableModel")


def list_drivers() -> list[str]:
    """Installed model drivers (all collections)."""
    return list_items("modelDriver")


_SECTION = {
    "Model Drivers": "modelDriver",
    "Portable Models": "portableModel",
    "Simulator Models": "simulatorModel",
}


def _list_items_cli(kind: str) -> list[str]:
    if shutil.which(COLLECTIONS_TOOL) is None:
        raise KIMError(f"neither kimpy nor `{COLLECTIONS_TOOL}` is available to list "
                       "installed KIM items")
    out = subprocess.run([COLLECTIONS_TOOL, "list"], capture_output=True, text=True,
                         check=False).stdout
    names, current = set(), None
    for line in out.splitlines():
        head = line.split(":")[0].strip()
        if head in _SECTION and not line.startswith("\t"):
            current = _SECTION[head]
            continue
        if line.startswith("\t") and current == kind:
            name = line.strip()
            if name and name != "--empty--":
                names.add(name)
        elif line.strip() and not line.startswith("\t"):
            current = None
    return sorted(names)


def is_installed(name: str, kind: str = "portableModel") -> bool:
    """True when an item of that type and name is found in any collection."""
    try:
        library_path(name, kind)
    except KIMError:
        return False
    return True


def library_path(name: str, kind: str = "portableModel") -> tuple[Path, str]:
    """(shared library, collection name) of an installed item; KIMError if missing."""
    col = _kimpy().collections.create()
    try:
        path, collection = col.get_item_library_file_name_and_collection(
            _item_type(kind), name)
    except RuntimeError as exc:
        raise KIMError(f"KIM {kind} {name!r} is not installed. {HOW_TO_INSTALL}") from exc
    return Path(os.path.normpath(path)), str(collection)


_DRIVER_EDN = re.compile(r'"model-driver"\s+"([^"]+)"')
_DRIVER_LIB = (re.compile(rb'"model-driver"\s*"([A-Za-z0-9_]+)"'),
               re.compile(rb'([A-Za-z][A-Za-z0-9_]*__MD_[0-9]{12}_[0-9]{3})'))


def model_driver(model_name: str) -> str | None:
    """The driver a portable model uses, or None for a stand-alone model.

    Read from the model's ``kimspec.edn`` metadata when present, otherwise from the
    driver name kim-api embeds in the compiled model library.
    """
    kimpy = _kimpy()
    path, _ = library_path(model_name)
    col = kimpy.collections.create()
    item_type = kimpy.collection_item_type.portableModel
    try:
        n = col.cache_list_of_item_metadata_files(item_type, model_name)
        for i in range(n):
            meta = col.get_item_metadata_file(i)
            if meta[0] == "kimspec.edn":
                m = _DRIVER_EDN.search(str(meta[-1]))
                if m:
                    return m.group(1)
    except RuntimeError:
        pass
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    for pattern in _DRIVER_LIB:
        m = pattern.search(blob)
        if m:
            return m.group(1).decode()
    return None


def install(directory, collection: str = "user", env: dict | None = None,
            force: bool = True) -> str:
    """Build and install a model/driver directory with kim-api-collections-management.

    ``collection`` is ``"user"``, ``"environment"`` or ``"CWD"``; ``env`` is the
    environment of the build (pass :attr:`PrivateCollection.env` to install into a
    private collection).  Returns the tool's output; raises KIMError with it on failure.
    """
    if collection not in {"user", "environment", "CWD"}:
        raise KIMError(f"install into {collection!r}: expected 'user', 'environment' "
                       "or 'CWD' (system installs need root and are not done here)")
    if shutil.which(COLLECTIONS_TOOL) is None:
        raise KIMError(f"`{COLLECTIONS_TOOL}` not found; install kim-api "
                       "(Debian: libkim-api-dev)")
    directory = Path(directory).resolve()
    if not (directory / "CMakeLists.txt").is_file():
        raise KIMError(f"{directory} has no CMakeLists.txt; not a KIM item directory")
    cmd = [COLLECTIONS_TOOL, "install"] + (["--force"] if force else [])
    cmd += [collection, str(directory)]
    with tempfile.TemporaryDirectory(prefix="wb-kim-build-") as cwd:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                              env=os.environ.copy() if env is None else env, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or "Success" not in output:
        raise KIMError(f"installing {directory.name} into the {collection} collection "
                       f"failed (exit code {proc.returncode}):\n{output[-4000:]}")
    return output


class PrivateCollection:
    """A temporary, self-contained KIM *user* + *environment* collection.

    Use as a context manager::

        with PrivateCollection() as col:
            col.install(write_kim_model(model, tmp / "My__MO_000000000000_000"))
            KIMModel("My__MO_000000000000_000")       # found through os.environ
            subprocess.run(["lmp", ...], env=col.env)  # same collection for LAMMPS

    While active, ``os.environ`` points kim-api's configuration file and collection
    directories at the temporary directory (kim-api reads them whenever a model is
    created), so the user's ``~/.kim-api`` is never read or written.  The previous values
    are restored on exit, and the directory is removed unless it was given as ``root``
    or ``keep`` is set.  Changing ``os.environ`` is
    process-wide: do not create KIM models in other threads meanwhile.
    """

    def __init__(self, root=None, keep: bool = False):
        self._root_arg = root
        self.keep = keep
        self.root: Path | None = None
        self._saved: dict[str, str | None] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None

    @property
    def env(self) -> dict[str, str]:
        """A full environment for subprocesses (LAMMPS, the collections tool)."""
        env = os.environ.copy()
        env.update(self.variables)
        return env

    @property
    def variables(self) -> dict[str, str]:
        if self.root is None:
            raise KIMError("PrivateCollection is not active; use it in a `with` block")
        return {
            "KIM_API_CONFIGURATION_FILE": str(self.root / "config"),
            "KIM_API_MODEL_DRIVERS_DIR": str(self.root / "model-drivers"),
            "KIM_API_PORTABLE_MODELS_DIR": str(self.root / "portable-models"),
            "KIM_API_SIMULATOR_MODELS_DIR": str(self.root / "simulator-models"),
        }

    def __enter__(self) -> "PrivateCollection":
        if self._root_arg is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wb-kim-collection-")
            self.root = Path(self._tmp.name)
        else:
            self.root = Path(self._root_arg).resolve()
            self.root.mkdir(parents=True, exist_ok=True)
        user = self.root / "user"
        lines = []
        for key in ("model-drivers", "portable-models", "simulator-models"):
            (self.root / key).mkdir(exist_ok=True)
            (user / key).mkdir(parents=True, exist_ok=True)
            lines.append(f"{key}-dir = {user / key}")
        (self.root / "config").write_text("\n".join(lines) + "\n")
        self._saved = {k: os.environ.get(k) for k in ENV_VARIABLES}
        os.environ.update(self.variables)
        return self

    def __exit__(self, *exc) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._tmp is not None and not self.keep:
            self._tmp.cleanup()
        self.root = None

    def install(self, directory, force: bool = True) -> str:
        """Build and install ``directory`` into this collection (its user part)."""
        return install(directory, "user", env=self.env, force=force)

    def installed(self, kind: str = "portableModel") -> list[str]:
        """Names installed in this collection only."""
        sub = {"portableModel": "portable-models", "modelDriver": "model-drivers",
               "simulatorModel": "simulator-models"}[kind]
        found = []
        for base in (self.root / "user" / sub, self.root / sub):
            if base.is_dir():
                found += [p.name for p in base.iterdir() if p.is_dir()]
        return sorted(found)
