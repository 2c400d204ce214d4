"""Numerical settings of the property suite, with the defaults the tests show converged
for Stillinger-Weber silicon (tests/test_validation_properties.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from workbench.validation.structures import ValidationError

#: every property the suite knows, in the order it computes them
ALL_PROPERTIES = ("lattice", "eos", "elastic", "phonons", "vacancy", "surface", "dimer",
                  "trimer", "functions", "md")
#: what runs when no properties are named
DEFAULT_PROPERTIES = ("lattice", "eos", "elastic", "phonons", "vacancy", "dimer", "trimer",
                      "functions", "md")


@dataclass
class ValidationSettings:
    """Numerical settings (units: Å, eV, fs, K, THz).

    Attributes:
        fmax: force tolerance of every ionic relaxation (eV/Å).
        relax_steps: step limit of a relaxation.
        eos_strain: the E-V points span lattice strains in [-eos_strain, +eos_strain].
        eos_points: number of E-V points.
        strain: finite strain of the elastic constants (central differences).
        phonon_supercell: repetitions of the (conventional) cell for the force constants.
        phonon_displacement: atom displacement of the finite-displacement method (Å).
        phonon_band_points: q-points along the whole standard path.
        phonon_mesh: q-mesh of the density of states.
        imaginary_tolerance: frequencies below -this (THz) are flagged imaginary.
        vacancy_supercell: repetitions of the cell for the vacancy.
        surface_miller: Miller indices of the surface.
        surface_layers: layers (of the cell) in the slab.
        surface_vacuum: vacuum on each side of the slab (Å).
        dimer_points, trimer_points: points of the E(r) and E(theta) curves.
        md_supercell, md_temperature, md_time (fs), md_timestep (fs): the NVE run.
        md_min_distance: the structure "held" when no two atoms came closer than this
            fraction of the bulk nearest-neighbor distance.
        seed: random seed of the MD velocities.
    """

    fmax: float = 1e-6
    relax_steps: int = 500
    eos_strain: float = 0.03
    eos_points: int = 11
    strain: float = 1e-3
    phonon_supercell: tuple = (2, 2, 2)
    phonon_displacement: float = 0.01
    phonon_band_points: int = 120
    phonon_mesh: tuple = (12, 12, 12)
    imaginary_tolerance: float = 0.05
    vacancy_supercell: tuple = (3, 3, 3)
    vacancy_fmax: float = 1e-3
    surface_miller: tuple = (1, 0, 0)
    surface_layers: int = 3
    surface_vacuum: float = 8.0
    dimer_points: int = 60
    trimer_points: int = 45
    md_supercell: tuple = (2, 2, 2)
    md_temperature: float = 300.0
    md_time: float = 1000.0
    md_timestep: float = 1.0
    md_min_distance: float = 0.7
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("phonon_supercell", "phonon_mesh", "vacancy_supercell",
                     "surface_miller", "md_supercell"):
            v = getattr(self, name)
            if isinstance(v, int):
                v = (v, v, v)
            v = tuple(int(x) for x in v)
            if len(v) != 3:
                raise ValidationError(f"setting {name}: expected 3 integers, got {v}")
            setattr(self, name, v)
        for name in ("fmax", "eos_strain", "strain", "phonon_displacement", "md_time",
                     "md_timestep", "vacancy_fmax"):
            if not float(getattr(self, name)) > 0:
                raise ValidationError(f"setting {name} must be positive, got "
                                      f"{getattr(self, name)!r}")
        if int(self.eos_points) < 5:
            raise ValidationError(f"setting eos_points must be at least 5, got {self.eos_points}")

    def to_dict(self) -> dict:
        """The settings as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "ValidationSettings":
        """Settings from a dict (None: the defaults); unknown keys raise an error
        listing the valid ones."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValidationError(f"unknown validation setting(s) {bad}; known: {sorted(known)}")
        return cls(**d)


def check_properties(properties) -> tuple[str, ...]:
    if properties is None:
        return DEFAULT_PROPERTIES
    if isinstance(properties, str):
        properties = properties.replace(",", " ").split()
    props = tuple(properties)
    bad = [p for p in props if p not in ALL_PROPERTIES]
    if bad:
        raise ValidationError(f"unknown propert{'y' if len(bad) == 1 else 'ies'} {bad}; "
                              f"known: {', '.join(ALL_PROPERTIES)}")
    return tuple(p for p in ALL_PROPERTIES if p in props)
