"""Write a :class:`~workbench.ml.snap.SNAP` model for the OpenKIM SNAP driver.

The driver SNAP__MD_536750310735_000 reads LAMMPS's two files, in this order:

* ``NAME.snapcoeff``: comment lines, ``nelements ncoeff``, then per element a line
  ``symbol R W`` followed by its ``ncoeff`` coefficients, one per line;
* ``NAME.snapparam``: ``keyword value`` lines (rcutfac, twojmax, rfac0, rmin0,
  switchflag, bzeroflag, quadraticflag).

The directory is written by the shared ``kim_export.write_directory``.
"""

from __future__ import annotations

from workbench.models.kim_export import (_num, check_finite, cmakelists, resolve_path,
                                         write_directory)

SNAP_DRIVER = "SNAP__MD_536750310735_000"


def snap_files(model) -> tuple[str, str]:
    """(snapcoeff, snapparam) texts of ``model``."""
    lines = ["# SNAP coefficients written by Potential Workbench", "#",
             f"{len(model.species)} {model.ncoeff}"]
    for s in model.species:
        lines.append(f"{s} {_num(model.radii[s])} {_num(model.weights[s])}")
        lines += [_num(v) for v in model.model_params[f"coeffs_{s}"].value]
    coeff = "\n".join(lines) + "\n"
    param = "\n".join([
        "# SNAP parameters written by Potential Workbench", "",
        f"rcutfac {_num(model.rcutfac)}", f"twojmax {model.twojmax}",
        f"rfac0 {_num(model.rfac0)}", f"rmin0 {_num(model.rmin0)}",
        f"switchflag {model.switchflag}", f"bzeroflag {model.bzeroflag}",
        f"quadraticflag {int(model.quadratic)}"]) + "\n"
    return coeff, param


def write_snap_kim_model(model, path=None, overwrite: bool = False):
    """Write ``model`` as a KIM portable model of the SNAP driver; returns the directory."""
    check_finite(model)
    path, name = resolve_path(path, f"SNAP_{''.join(model.species)}")
    coeff, param = snap_files(model)
    files = {f"{name}.snapcoeff": coeff, f"{name}.snapparam": param}
    files["CMakeLists.txt"] = cmakelists(name, SNAP_DRIVER, list(files))
    return write_directory(path, files, overwrite=overwrite)
