"""A tabulated model refuses cells outside its domain (an EAM density beyond the
embedding table): the lattice scan walks out from the guessed cell and stops at the
model's domain, the E-V fit leaves out the volumes the model refuses and reports them."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.validation import validate
from workbench.validation.bulk import scan_scales

EAM_AL = "EAM_CubicNaturalSpline_ErcolessiAdams_1994_Al__MO_800509458712_002"


@pytest.mark.kim
def test_kim_eam_al_lattice_scan_stops_at_the_models_domain():
    from workbench.models import KIMModel

    model = KIMModel(EAM_AL)
    res = validate(model, "fcc", "Al", "lattice eos", references=False)
    lat = res.details["lattice"]
    # Ercolessi & Adams (1994) fitted a0 = 4.032 Å and E_coh = 3.36 eV/atom
    assert res.values["lattice_constant"] == pytest.approx(4.032, abs=5e-4)
    assert res.values["cohesive_energy"] == pytest.approx(-3.36, abs=1e-4)
    # the guessed cell (covalent radii) is too dense for the model: those scales are
    # refused and reported, the scan found the basin in the larger cells
    refused, (lo, hi) = lat["scan_refused"], lat["scan_range"]
    assert refused and max(refused) < lo and hi == pytest.approx(2.5)
    assert res.details["eos"]["skipped_volumes"] == []
    assert res.values["bulk_modulus"] == pytest.approx(80, rel=0.1)
    # a wide E-V range reaches the domain's edge: those volumes are left out, reported
    wide = validate(model, "fcc", "Al", "lattice eos", settings={"eos_strain": 0.1},
                    references=False)
    eos = wide.details["eos"]
    assert len(eos["skipped_volumes"]) == 3 and len(eos["volumes"]) == 8
    assert max(eos["skipped_volumes"]) < min(eos["volumes"])
    assert wide.values["V0"] == pytest.approx(res.values["V0"], rel=2e-3)


def test_scan_walks_out_from_the_guess_and_stops_at_the_domain_edges():
    from workbench.errors import ModelError

    calls = []

    def energy(x):  # defined on [0.9, 1.6] only, minimum at 1.2
        calls.append(x)
        if not 0.9 <= x <= 1.6:
            raise ModelError("outside the table")
        return (x - 1.2) ** 2

    grid = np.linspace(0.5, 2.0, 16)  # 0.5, 0.6, ... 2.0
    found, refused = scan_scales(energy, grid)
    assert sorted(found) == pytest.approx([0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6])
    assert refused == pytest.approx([0.8, 1.7])  # one refusal ends each direction
    assert len(calls) == 10
    # a guess outside the domain: refusals are passed over until the model evaluates
    found, refused = scan_scales(lambda x: energy(x + 0.45), grid)
    assert sorted(found) == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    assert refused == pytest.approx([1.2])
    found, refused = scan_scales(lambda x: energy(x - 0.8), grid)
    assert sorted(found) == pytest.approx([1.7, 1.8, 1.9, 2.0])
    assert refused == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5,
                                     1.6])
