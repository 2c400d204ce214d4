"""Write a model as an OpenKIM portable model directory (``write_kim_model``).

The directory holds a ``CMakeLists.txt`` in kim-api's ``add_kim_api_model_library`` form
and the parameter file(s) of the matching OpenKIM model driver:

* ``LennardJones``: driver ``LennardJones612__MD_414112407348_003``, file ``NAME.params``;
* ``StillingerWeber``: driver ``SW__MD_335816936951_004``, file ``NAME.params``;
* ``Tersoff``: driver ``Tersoff_LAMMPS__MD_077075034781_004``, files ``NAME.settings`` and
  ``NAME.params``;
* a ``KIMModel`` of those drivers: the same, from its current values;
* any other parameterized ``KIMModel``: kim-api's own WriteParameterizedModel.

``kim-api-collections-management install user DIR`` builds and installs the result;
LAMMPS then runs it with ``kim init NAME metal``.  The model's KIM name is the
directory's name (rules and the safe atomic write: ``kim_item``).

Numbers are written with ``repr`` (shortest round-trip form), so the installed model
computes with exactly the workbench's values.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import ModelError
from .kim_item import (MARKER, NULL_ID_SUFFIX, check_target, default_model_name,  # noqa: F401
                       is_workbench_item, resolve_path, write_directory)

LJ_DRIVER = "LennardJones612__MD_414112407348_003"
SW_DRIVER = "SW__MD_335816936951_004"
TERSOFF_DRIVER = "Tersoff_LAMMPS__MD_077075034781_004"
SUPPORTED_DRIVERS = (LJ_DRIVER, SW_DRIVER, TERSOFF_DRIVER)


# KIM SW driver's column order in its parameter file (after the two species names).
SW_COLUMNS = ("A", "B", "p", "q", "sigma", "lambda", "gamma", "costheta0", "cutoff")
# LAMMPS/KIM Tersoff column order after the three species names.
TERSOFF_COLUMNS = ("m", "gamma", "lambda3", "c", "d", "h", "n", "beta", "lambda2", "B",
                   "Rc", "Dc", "lambda1", "A")
TERSOFF_PAIR = ("A", "B", "lambda1", "lambda2", "beta", "n")
TERSOFF_TRIPLET = ("lambda3", "m", "gamma", "c", "d", "h", "Rc", "Dc")


def _num(x) -> str:
    return repr(float(x))


def pairs(n: int) -> list[tuple[int, int]]:
    """Unordered species pairs (a <= b) in KIM's lower-triangular storage order."""
    return [(a, b) for a in range(n) for b in range(a, n)]


# --------------------------------------------------------------------------- files
def cmakelists(name: str, driver: str, parameter_files: Sequence[str]) -> str:
    """kim-api's CMakeLists.txt for a parameterized portable model."""
    files = "\n".join(f'    "{f}"' for f in parameter_files)
    return (
        "cmake_minimum_required(VERSION 3.10)\n\n"
        "list(APPEND CMAKE_PREFIX_PATH $ENV{KIM_API_CMAKE_PREFIX_DIR})\n"
        "find_package(KIM-API-ITEMS 2.2 REQUIRED CONFIG)\n\n"
        'kim_api_items_setup_before_project(ITEM_TYPE "portableModel")\n'
        f"project({name})\n"
        'kim_api_items_setup_after_project(ITEM_TYPE "portableModel")\n\n'
        "add_kim_api_model_library(\n"
        "  NAME ${PROJECT_NAME}\n"
        f'  DRIVER_NAME "{driver}"\n'
        "  PARAMETER_FILES\n"
        f"{files}\n"
        "  )\n"
    )


def lj612_params(species: Sequence[str], cutoff, epsilon, sigma, shift: bool) -> str:
    """LennardJones612 driver file: ``N shift`` then ``s1 s2 cutoff epsilon sigma``.

    Per-pair arrays are in :func:`pairs` order.  With ``shift`` the driver shifts each
    pair energy to zero at its cutoff.
    """
    lines = [f"{len(species)} {1 if shift else 0}"]
    for k, (a, b) in enumerate(pairs(len(species))):
        lines.append(f"{species[a]} {species[b]} {_num(cutoff[k])} {_num(epsilon[k])} "
                     f"{_num(sigma[k])}")
    lines += ["", "# first line: number of species, shift flag (1: E(cutoff) = 0)",
              "# then: species_i species_j cutoff[A] epsilon[eV] sigma[A]"]
    return "\n".join(lines) + "\n"


def sw_params(species: Sequence[str], values: Mapping[str, Sequence[float]]) -> str:
    """SW driver file: ``N`` then one line per pair with the 9 SW_COLUMNS values.

    ``A`` and ``lambda`` include epsilon (A = A_SW*epsilon, lambda = lambda_SW*epsilon);
    ``gamma`` is gamma_SW*sigma, in Angstrom.  The three-body strength of a vertex with
    bonds ij, ik is sqrt(lambda_ij * lambda_ik), as in the driver.
    """
    lines = [str(len(species))]
    for k, (a, b) in enumerate(pairs(len(species))):
        cols = " ".join(_num(values[c][k]) for c in SW_COLUMNS)
        lines.append(f"{species[a]} {species[b]} {cols}")
    lines += ["", "# first line: number of species",
              "# then: species1 species2 " + " ".join(SW_COLUMNS),
              "# A, lambda in eV; sigma, gamma, cutoff in Angstrom; others unitless"]
    return "\n".join(lines) + "\n"


def tersoff_files(species: Sequence[str], values: Mapping[str, np.ndarray]) -> tuple[str, str]:
    """(settings, params) for the Tersoff_LAMMPS driver.

    ``values`` holds the pair parameters (TERSOFF_PAIR) as (N, N) arrays and the triplet
    parameters (TERSOFF_TRIPLET) as (N, N, N) arrays indexed by species position.  Each
    line ``i j k`` of the LAMMPS-format file carries the triplet values of (i, j, k) and
    the pair values of (i, j) -- the driver (like LAMMPS) reads the pair values from the
    ``i j j`` lines.
    """
    n = len(species)
    lines = []
    for i in range(n):
        for j in range(n):
            for k in range(n):
                row = []
                for c in TERSOFF_COLUMNS:
                    if c in TERSOFF_PAIR:
                        row.append(_num(values[c][i, j]))
                    elif c == "m":
                        m = float(values["m"][i, j, k])
                        if m not in (1.0, 3.0):
                            raise ModelError(f"Tersoff parameter 'm' for {species[i]}-"
                                             f"{species[j]}-{species[k]} is {m}; the "
                                             "driver accepts only 1 or 3")
                        row.append(str(int(m)))
                    else:
                        row.append(_num(values[c][i, j, k]))
                lines.append(f"{species[i]} {species[j]} {species[k]} " + " ".join(row))
    return " ".join(species) + "\n", "\n".join(lines) + "\n"


def _positive(values, names, what):
    for name in names:
        bad = np.flatnonzero(~(np.asarray(values[name], dtype=float) > 0))
        if bad.size:
            raise ModelError(f"cannot export: {what} parameter '{name}' must be positive, "
                             f"got {np.asarray(values[name]).ravel().tolist()}")


def check_driver_values(driver: str, values: Mapping[str, np.ndarray]) -> None:
    """Refuse parameters the driver would turn into NaN: every value finite, and the
    driver's own domain (positive sigma and cutoffs; Tersoff 0 < Dc <= Rc, n > 0, d != 0),
    the same rules the engine applies."""
    for name, arr in values.items():
        arr = np.asarray(arr, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"cannot export: parameter '{name}' is not finite "
                             f"({arr.ravel().tolist()})")
    if driver == LJ_DRIVER:
        _positive(values, ("sigma", "cutoff"), "LennardJones")
    elif driver == SW_DRIVER:
        _positive(values, ("sigma", "cutoff"), "Stillinger-Weber")
    elif driver == TERSOFF_DRIVER:
        _positive(values, ("Dc", "n"), "Tersoff")
        if np.any(values["Dc"] > values["Rc"]):
            raise ModelError("cannot export: Tersoff needs Dc <= Rc, got Rc="
                             f"{values['Rc'].ravel().tolist()}, Dc={values['Dc'].ravel().tolist()}")
        if np.any(values["d"] == 0):
            raise ModelError("cannot export: Tersoff parameter 'd' must be nonzero")


def check_finite(model) -> None:
    """Every original-space parameter of ``model`` is a finite number."""
    for name, arr in model.get_params_dict("original").items():
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"cannot export {model._display_name()}: parameter '{name}' is "
                             f"not finite ({np.asarray(arr).ravel().tolist()})")


def write_driver_model(path, default_prefix: str, driver: str, species: Sequence[str],
                       values: Mapping[str, np.ndarray], shift: bool = True,
                       overwrite: bool = False) -> Path:
    """Write a model of one of SUPPORTED_DRIVERS from species-position-indexed values.

    LJ: ``cutoff``, ``epsilon``, ``sigma`` per pair (:func:`pairs` order).  SW: the
    SW_COLUMNS per pair.  Tersoff: see :func:`tersoff_files`.
    """
    path, name = resolve_path(path, default_prefix)
    species = list(species)
    check_driver_values(driver, values)
    if driver == LJ_DRIVER:
        files = {f"{name}.params": lj612_params(species, values["cutoff"], values["epsilon"],
                                                values["sigma"], shift)}
    elif driver == SW_DRIVER:
        files = {f"{name}.params": sw_params(species, values)}
    elif driver == TERSOFF_DRIVER:
        settings, params = tersoff_files(species, values)
        files = {f"{name}.settings": settings, f"{name}.params": params}
    else:
        raise ModelError(f"no parameter-file writer for KIM driver {driver!r}; "
                         f"supported: {', '.join(SUPPORTED_DRIVERS)}")
    files["CMakeLists.txt"] = cmakelists(name, driver, list(files))
    return write_directory(path, files, overwrite)


def _by_species_pairs(arr, n: int, name: str) -> np.ndarray:
    """Per-unordered-pair values in :func:`pairs` order from pair or (N, N) storage."""
    arr = np.asarray(arr, dtype=float).ravel()
    npair = n * (n + 1) // 2
    if arr.size == npair:
        return arr
    if arr.size == n * n:
        full = arr.reshape(n, n)
        return np.array([full[a, b] for a, b in pairs(n)])
    if arr.size == 1:
        return np.full(npair, arr[0])
    raise ModelError(f"parameter '{name}' has {arr.size} values; expected {npair} "
                     f"(one per species pair) or {n * n} for {n} species")


def _square(arr, n: int, name: str) -> np.ndarray:
    """(N, N) symmetric-or-full array from pair or N*N storage."""
    arr = np.asarray(arr, dtype=float).ravel()
    if arr.size == n * n:
        return arr.reshape(n, n)
    per_pair = _by_species_pairs(arr, n, name)
    full = np.empty((n, n))
    for k, (a, b) in enumerate(pairs(n)):
        full[a, b] = full[b, a] = per_pair[k]
    return full


def _cube(arr, n: int, name: str) -> np.ndarray:
    arr = np.asarray(arr, dtype=float).ravel()
    if arr.size == n ** 3:
        return arr.reshape(n, n, n)
    if arr.size == 1:
        return np.full((n, n, n), arr[0])
    raise ModelError(f"Tersoff parameter '{name}' has {arr.size} values; expected "
                     f"{n ** 3} (one per species triplet) for {n} species")


def _pick(values: Mapping, *names):
    for name in names:
        if name in values:
            return values[name]
    raise ModelError(f"the model has none of the parameters {names}")


def driver_values(driver: str, species: Sequence[str], values: Mapping) -> dict:
    """Parameter values (by KIM or built-in names) in the writers' layout."""
    n = len(species)
    if driver == LJ_DRIVER:
        return {"cutoff": _by_species_pairs(_pick(values, "cutoff", "cutoffs"), n, "cutoff"),
                "epsilon": _by_species_pairs(_pick(values, "epsilon", "epsilons"), n,
                                             "epsilon"),
                "sigma": _by_species_pairs(_pick(values, "sigma", "sigmas"), n, "sigma")}
    if driver == SW_DRIVER:
        return {c: _by_species_pairs(values[c], n, c) for c in SW_COLUMNS}
    if driver == TERSOFF_DRIVER:
        out = {c: _square(values[c], n, c) for c in TERSOFF_PAIR}
        out.update({c: _cube(values[c], n, c) for c in TERSOFF_TRIPLET})
        return out
    raise ModelError(f"no parameter-file writer for KIM driver {driver!r}")


def _lj_shift(model, values: Mapping) -> bool:
    for source in (values, getattr(getattr(model, "spec", None), "extra", {}) or {},
                   vars(model)):
        if "shift" in source:
            return bool(np.asarray(source["shift"]).ravel()[0])
    return False


def _write_kimmodel(model, path, overwrite) -> Path:
    driver = model.driver_name()
    prefix = model.model_name.split("__")[0] + "_workbench"
    model._sync()
    check_finite(model)
    if driver in SUPPORTED_DRIVERS:
        species = list(model.get_supported_species())
        values = model.get_params_dict("original")
        return write_driver_model(path, prefix, driver, species,
                                  driver_values(driver, species, values),
                                  shift=_lj_shift(model, values), overwrite=overwrite)
    import kimpy

    present = model.kim_model.is_routine_present(
        kimpy.model_routine_name.WriteParameterizedModel)[0]
    if not present:
        raise ModelError(
            f"cannot write {model.model_name} as a KIM model: its driver {driver!r} has "
            "no parameter-file writer here and does not implement kim-api's "
            "WriteParameterizedModel routine")
    path, name = resolve_path(path, prefix)
    check_target(path, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}."))
    try:
        model.kim_model.write_parameterized_model(str(tmp), name)
        files = {p.name: p.read_text() for p in tmp.iterdir() if p.is_file()}
    except RuntimeError as exc:
        raise ModelError(f"kim-api could not write {model.model_name}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return write_directory(path, files, overwrite)


def write_kim_model(model, path=None, overwrite: bool = False) -> Path:
    """Write ``model`` as a KIM portable model directory; returns its path.

    An existing directory at ``path`` is replaced only when this package wrote it (it
    carries the :data:`MARKER` file) and ``overwrite=True``; anything else is refused
    with a ModelError naming the path.  A model with a NaN/inf parameter, or one outside
    the driver's domain, is refused too (the installed model would compute NaN).

    ``path`` defaults to ``./<Name>__MO_000000000000_000``; its last component is the KIM
    model name (see the module docstring).  Supported: the built-in LennardJones,
    StillingerWeber and Tersoff, and KIMModels (of the LJ612, SW and Tersoff drivers, or
    of any driver implementing kim-api's WriteParameterizedModel routine).
    """
    from .kim import KIMModel

    if isinstance(model, KIMModel):
        return _write_kimmodel(model, path, overwrite)
    spec = getattr(model, "spec", None)
    driver = getattr(spec, "kim_driver", "") or ""
    if driver not in SUPPORTED_DRIVERS:
        raise ModelError(
            f"{type(model).__name__} cannot be written as a KIM model: supported are "
            "LennardJones, StillingerWeber, Tersoff and parameterized KIMModels "
            f"(KIM driver of this model: {driver or 'none'})")
    species = list(model.get_supported_species())
    values = (model.spec_params() if hasattr(model, "spec_params")
              else model.get_params_dict("original"))
    prefix = f"{type(model).__name__}_{''.join(species)}"
    check_finite(model)
    return write_driver_model(path, prefix, driver, species,
                              driver_values(driver, species, values),
                              shift=_lj_shift(model, values), overwrite=overwrite)
