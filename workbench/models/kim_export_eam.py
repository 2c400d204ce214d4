"""Write an :class:`~workbench.models.eam.EAM` as a KIM portable model (setfl table).

Two drivers read LAMMPS setfl files (see ``eam_tables`` for the layout):

* ``EAM_CubicNaturalSpline__MD_853402641673_002`` interpolates each table with the natural
  cubic spline through its points -- exactly our splines when every radial function has
  the same knots ``k*dr`` (k = 0 .. Nr-1) and every F the knots ``k*drho``; the table is
  then the knot values themselves.  Other knots are resampled on ``n_table`` points.
* ``EAM_Dynamo__MD_120291908751_005`` interpolates with LAMMPS's cubic Hermite scheme
  (slopes from 5-point differences), never exactly a natural spline: the functions are
  tabulated on ``n_table`` points and the largest deviation of that interpolation from
  our functions is reported (:func:`dynamo_interpolate`).

``model.export_report`` (and the setfl comment lines) record the driver, grid sizes and
the maximal tabulation error of every function.  The directory is written by the shared
``kim_export.write_directory`` (atomic replace, never over unrelated data).
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ModelError
from workbench.models.kim_export import (_num, check_finite, cmakelists, resolve_path,
                                         write_directory)

SPLINE_DRIVER = "EAM_CubicNaturalSpline__MD_853402641673_002"
DYNAMO_DRIVER = "EAM_Dynamo__MD_120291908751_005"
DRIVERS = {"spline": SPLINE_DRIVER, "dynamo": DYNAMO_DRIVER,
           SPLINE_DRIVER: SPLINE_DRIVER, DYNAMO_DRIVER: DYNAMO_DRIVER}


def _uniform_from_zero(x) -> float | None:
    """Spacing when x = k*h (k = 0..n-1) to round-off, else None."""
    x = np.asarray(x, float)
    h = (x[-1] - x[0]) / (x.size - 1)
    if x[0] != 0.0 or not np.allclose(x, np.arange(x.size) * h, rtol=0, atol=1e-12 * x[-1]):
        return None
    return h


def shared_grid(model, kind: str):
    """(n, spacing) when every function of ``kind`` ("radial" or "F") has the same
    uniform knots from 0, else None."""
    names = [n for n in model.layout.names if n.startswith("F_") == (kind == "F")]
    first = model.layout.knots[names[0]]
    if any(not np.array_equal(model.layout.knots[n], first) for n in names[1:]):
        return None
    h = _uniform_from_zero(first)
    return None if h is None else (first.size, h)


def dynamo_interpolate(table, h, t) -> np.ndarray:
    """EAM_Dynamo's (LAMMPS's) interpolation of ``table`` (spacing h, from 0) at t."""
    f = np.asarray(table, float)
    n = f.size
    d = np.empty(n)
    d[0] = f[1] - f[0]
    d[1] = 0.5 * (f[2] - f[0])
    d[n - 2] = 0.5 * (f[n - 1] - f[n - 3])
    d[n - 1] = f[n - 1] - f[n - 2]
    d[2:n - 2] = ((f[:n - 4] - f[4:]) + 8.0 * (f[3:n - 1] - f[1:n - 3])) / 12.0
    c2 = np.zeros(n)
    c3 = np.zeros(n)
    c2[:-1] = 3.0 * (f[1:] - f[:-1]) - 2.0 * d[:-1] - d[1:]
    c3[:-1] = d[:-1] + d[1:] - 2.0 * (f[1:] - f[:-1])
    p = np.asarray(t, float) / h
    k = np.minimum(p.astype(int), n - 2)
    p = np.minimum(p - k, 1.0)
    return ((c3[k] * p + c2[k]) * p + d[k]) * p + f[k]


def _tabulate(model, n_table: int, driver: str):
    """(nr, dr, nrho, drho, tables, errors): setfl tables and tabulation errors."""
    from workbench.engine.splines import spline_values

    lay = model.layout
    flat = lay.complete(model._flat_values())
    off = lay.offsets()
    values = {n: flat[off[n]:off[n] + len(lay.knots[n])] for n in lay.names}
    exact = driver == SPLINE_DRIVER
    rg = shared_grid(model, "radial") if exact else None
    fg = shared_grid(model, "F") if exact else None
    if rg is not None and rg[0] - 1 >= 0 and abs((rg[0] - 1) * rg[1] - lay.cutoff) > \
            1e-12 * lay.cutoff:
        rg = None  # the driver's cutoff must be the last radial knot
    nr, dr = rg if rg is not None else (n_table, lay.cutoff / (n_table - 1))
    rho_max = max(lay.knots[n][-1] for n in lay.names if n.startswith("F_"))
    nrho, drho = fg if fg is not None else (n_table, rho_max / (n_table - 1))
    tables, errors = {}, {}
    for n in lay.names:
        radial = not n.startswith("F_")
        npts, h, grid_exact = (nr, dr, rg is not None) if radial else (nrho, drho,
                                                                     fg is not None)
        if grid_exact:
            tables[n] = values[n].copy()
            errors[n] = 0.0
            continue
        grid = np.arange(npts) * h
        tab = spline_values(lay.knots[n], values[n], grid, radial)
        if radial:
            tab[-1] = spline_values(lay.knots[n], values[n], [grid[-1] * (1 - 1e-15)],
                                    True)[0]
        tables[n] = tab
        # deviation of the driver's interpolation from our function on a finer grid
        t = np.linspace(0.0, grid[-1], 4 * npts + 1)[:-1]
        ours = spline_values(lay.knots[n], values[n], t, radial)
        if driver == DYNAMO_DRIVER:
            theirs = dynamo_interpolate(tab, h, t)
        else:
            theirs = spline_values(grid, tab, t, False)
        errors[n] = float(np.max(np.abs(theirs - ours)))
    return nr, dr, nrho, drho, tables, errors


def setfl_text(species, nr, dr, nrho, drho, cutoff, tables, comments) -> str:
    """A setfl file from per-function tables (names as in ``EAMLayout``)."""
    from ase.data import atomic_masses, atomic_numbers

    lines = [c.replace("\n", " ") for c in (list(comments) + ["", "", ""])[:3]]
    lines.append(f"{len(species)} " + " ".join(species))
    lines.append(f"{nrho} {_num(drho)} {nr} {_num(dr)} {_num(cutoff)}")

    def block(vals):
        vals = [_num(v) for v in vals]
        return [" ".join(vals[k:k + 5]) for k in range(0, len(vals), 5)]

    for s in species:
        z = atomic_numbers.get(s, 0)
        mass = float(atomic_masses[z]) if z else 1.0
        lines.append(f"{z} {_num(mass)} 0.0 fcc")
        lines += block(tables[f"F_{s}"])
        lines += block(tables[f"rho_{s}"])
    for i in range(len(species)):
        for j in range(i + 1):
            a, b = sorted((i, j))
            lines += block(tables[f"rphi_{species[a]}_{species[b]}"])
    return "\n".join(lines) + "\n"


def write_eam_kim_model(model, path=None, driver: str = "spline", n_table: int = 2001,
                        overwrite: bool = False):
    """Write ``model`` as a KIM model of the spline or Dynamo EAM driver; returns the
    directory.  ``model.export_report`` holds the driver, grids and tabulation errors.
    An existing directory is replaced only if the workbench wrote it and ``overwrite``."""
    check_finite(model)
    if driver not in DRIVERS:
        raise ModelError(f"EAM export driver {driver!r}: expected 'spline' or 'dynamo'")
    driver = DRIVERS[driver]
    if n_table < 5:
        raise ModelError(f"n_table = {n_table}: a table needs at least 5 points")
    species = list(model.species)
    path, name = resolve_path(path, f"EAM_{''.join(species)}")
    nr, dr, nrho, drho, tables, errors = _tabulate(model, n_table, driver)
    worst = max(errors.values())
    comments = [f"{name}: spline EAM written by Potential Workbench",
                f"driver {driver}; Nr={nr} Nrho={nrho}",
                f"max tabulation error {worst:.3e} (0 = the knots themselves)"]
    fname = f"{name}.eam.alloy"
    files = {fname: setfl_text(species, nr, dr, nrho, drho, model.layout.cutoff, tables,
                               comments)}
    files["CMakeLists.txt"] = cmakelists(name, driver, [fname])
    out = write_directory(path, files, overwrite=overwrite)
    model.export_report = {"path": str(out), "driver": driver, "Nr": nr, "dr": dr,
                           "Nrho": nrho, "drho": drho, "exact": worst == 0.0,
                           "max_error": errors}
    return out
