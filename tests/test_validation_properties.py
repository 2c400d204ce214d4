"""The property suite on the OpenKIM SW Si model: the model's published values, elastic
constants by two routes, phonons at Γ and X against our own finite-difference force
constants, the default settings converged, references and the other prototypes."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk

from workbench.models import builtin
from workbench.validation import ValidationError, ValidationSettings, validate
from workbench.validation import elastic
from workbench.validation.phonons import phonons

SW_KIM = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
#: SW_StillingerWeber_1985_Si: a (Å), E_coh (eV/atom), B, C11, C12, C44 relaxed (GPa)
PUBLISHED = {"lattice_constant": 5.431, "cohesive_energy": -4.3364, "bulk_modulus": 101.4,
             "C11": 151.4, "C12": 76.4, "C44": 56.4}
A0 = 5.430949729


@pytest.fixture(scope="module")
def sw_result():
    return validate(builtin.StillingerWeber(), "diamond", "Si")


def check_published(values):
    for name, ref in PUBLISHED.items():
        assert values[name] == pytest.approx(ref, rel=5e-3), name


def test_sw_si_reproduces_the_published_values(sw_result):
    v = sw_result.values
    check_published(v)
    assert v["B_from_Cij"] == pytest.approx(v["bulk_modulus"], rel=5e-3)
    assert v["C44_unrelaxed"] > 1.5 * v["C44"]  # internal relaxation softens C44
    assert v["phonon_min_frequency"] > -0.05 and not sw_result.details["phonons"]["imaginary"]
    assert 4.0 < v["vacancy_formation_energy"] <= v["vacancy_formation_energy_unrelaxed"] + 1e-6
    assert v["dimer_r_min"] == pytest.approx(2 ** (1 / 6) * 2.0951, rel=2e-2)
    assert v["md_held"] == 1.0 and abs(v["md_drift"]) < 1e-4
    trimer = sw_result.details["trimer"]
    assert trimer["theta_min"] == pytest.approx(109.47, abs=3.5)
    assert sw_result.summary().keys() == {"lattice_constant", "cohesive_energy",
                                          "bulk_modulus", "C11", "C12", "C44",
                                          "phonon_min_frequency", "vacancy_formation_energy"}


@pytest.mark.kim
def test_kim_sw_model_gives_the_same_values():
    from workbench.models.kim import KIMModel

    res = validate(KIMModel(SW_KIM), "diamond", "Si",
                   properties="lattice eos elastic", references=False)
    check_published(res.values)


def relaxed_si(model):
    atoms = bulk("Si", "diamond", a=A0, cubic=True)
    atoms.calc = model.ase_calculator()
    return atoms


def test_elastic_constants_by_stress_and_by_energy_agree():
    atoms = relaxed_si(builtin.StillingerWeber())
    s = ValidationSettings()
    by_stress = elastic.elastic_constants(atoms, s, cubic=True)
    by_energy = elastic.cubic_constants_from_energy(atoms, s)
    for k in ("C11", "C12", "C44"):
        assert by_energy[k] == pytest.approx(by_stress[k], rel=2e-3), k
    full = elastic.elastic_matrix(atoms, s, relax=True)
    np.testing.assert_allclose(full, elastic.cubic_matrix(by_stress["C11"], by_stress["C12"],
                                                          by_stress["C44"]), atol=0.05)


def own_dynamical_frequencies(model, q_cart, h=0.01):
    """Frequencies (THz) at q from force constants by central differences in the 2×2×2
    conventional supercell (the supercell phonopy uses with the default settings)."""
    sc = bulk("Si", "diamond", a=A0, cubic=True).repeat(2)
    sc.calc = model.ase_calculator()
    n = len(sc)
    sub = np.round(4 * sc.positions / A0).astype(int)[:, 0] % 2
    reps = {0: int(np.flatnonzero(sub == 0)[0]), 1: int(np.flatnonzero(sub == 1)[0])}
    phi = np.zeros((n, 3, n, 3))
    for i in reps.values():  # one atom of each sublattice is enough
        for k in range(3):
            f = []
            for sign in (1, -1):
                work = sc.copy()
                work.calc = model.ase_calculator()
                work.positions[i, k] += sign * h
                f.append(work.get_forces())
            phi[i, k] = -(f[0] - f[1]) / (2 * h)
    D = np.zeros((6, 6), complex)
    mass = sc.get_masses()[0]
    for a in (0, 1):
        i = reps[a]
        for j in range(n):
            b = sub[j]
            phase = np.exp(1j * q_cart @ (sc.positions[j] - sc.positions[i]))
            D[3 * a:3 * a + 3, 3 * b:3 * b + 3] += phi[i, :, j, :] * phase / mass
    lam = np.linalg.eigvalsh(0.5 * (D + D.conj().T))
    conv = units._e / units._amu * 1e20
    return np.sort(np.sign(lam) * np.sqrt(np.abs(lam) * conv) / (2 * np.pi) / 1e12)


def test_phonons_at_gamma_and_x_match_our_finite_difference_force_constants():
    model = builtin.StillingerWeber()
    res = phonons(model, relaxed_si(model), ValidationSettings())
    sp = res["special_frequencies"]
    gamma = own_dynamical_frequencies(model, np.zeros(3))
    x = own_dynamical_frequencies(model, np.array([2 * np.pi / A0, 0, 0]))
    np.testing.assert_allclose(np.sort(sp["G"]), gamma, atol=1e-3)
    np.testing.assert_allclose(np.sort(sp["X"]), x, atol=1e-3)
    assert gamma[-1] == pytest.approx(17.83, abs=0.05)


def test_default_settings_are_converged_for_sw_si():
    model = builtin.StillingerWeber()
    base = validate(model, "diamond", "Si", properties="eos elastic phonons vacancy md",
                    references=False).values
    finer = validate(model, "diamond", "Si", properties="eos elastic phonons vacancy md",
                     references=False,
                     settings={"eos_strain": 0.015, "eos_points": 15, "strain": 5e-4,
                               "phonon_supercell": 3, "vacancy_supercell": 4,
                               "md_timestep": 0.5}).values
    for k, rel in (("bulk_modulus", 3e-3), ("C11", 1e-3), ("C12", 1e-3), ("C44", 1e-3),
                   ("phonon_gamma_optical", 2e-3), ("phonon_X_TA", 5e-3),
                   ("phonon_X_TO", 2e-3), ("vacancy_formation_energy", 5e-3)):
        assert finer[k] == pytest.approx(base[k], rel=rel), k
    assert abs(base["md_drift"]) < 1e-4 and abs(finer["md_drift"]) < 1e-4


def test_references_and_dft_points_beside_the_predictions(sw_result):
    rows = {r["property"]: r for r in sw_result.references}
    assert rows["C11"]["reference"] == 165.77
    assert rows["C11"]["difference"] == pytest.approx(sw_result.values["C11"] - 165.77)
    assert "McSkimin" in rows["C11"]["source"] and rows["C11"]["kind"] == "experiment"
    assert rows["lattice_constant"]["percent"] == pytest.approx(0.0, abs=0.01)
    # every value says where it was checked; unconfirmed ones say so in the report
    assert rows["cohesive_energy"]["reference"] == -4.62
    assert rows["cohesive_energy"]["checked"].startswith("confirmed: abstract of Farid")
    assert rows["phonon_X_TA"]["checked"].startswith("not confirmed")
    from workbench.validation.references import reference_table
    from workbench.validation.report import property_rows

    for key, table in reference_table().items():
        for name, ref in table.items():
            assert ref["checked"].split(":")[0] in ("confirmed", "partly", "not confirmed",
                                                   "derived from C11 and C12 below"), name
    shown = {r["property"]: r["source"] for r in property_rows(sw_result)}
    assert shown["phonon_X_TA"].endswith("[value not confirmed]")
    assert not shown["vacancy_formation_energy"].endswith("[value not confirmed]")
    assert not shown["lattice_constant"].endswith("[value not confirmed]")
    dft = sw_result.dft_eos
    assert len(dft["volumes"]) == 100 and dft["source"].startswith("Si data set")
    # the DFT points have a minimum near a = 5.43 Å (V = a³/8)
    assert dft["V0"] == pytest.approx(5.43 ** 3 / 8, rel=0.02)
    assert 60 < dft["B"] < 120


def test_other_prototypes_and_bad_input():
    lj = builtin.LennardJones(species=("Ar",))
    lj.set_param_value("epsilon", [0.0104])
    lj.set_param_value("sigma", [3.4])
    lj.set_param_value("cutoff", [8.5])
    for proto, a_over_sigma in (("fcc", 1.542), ("bcc", 1.22), ("hcp", 1.09)):
        res = validate(lj, proto, "Ar", properties="lattice eos", references=False)
        assert res.values["lattice_constant"] / 3.4 == pytest.approx(a_over_sigma, rel=0.02)
        assert res.values["bulk_modulus"] > 0
    sic = builtin.Tersoff(species=("Si", "C"))
    res = validate(sic, "zincblende", ["Si", "C"], properties="lattice elastic",
                   references=True)
    assert 4.2 < res.values["lattice_constant"] < 4.5
    assert {r["property"] for r in res.references} >= {"lattice_constant", "C11"}
    with pytest.raises(ValidationError, match="unknown structure 'perovskite'"):
        validate(lj, "perovskite", "Ar")
    with pytest.raises(ValidationError, match="needs 2 species"):
        validate(lj, "rocksalt", "Ar")
    with pytest.raises(ValidationError, match="unknown property"):
        validate(lj, "fcc", "Ar", properties="eos colour")
    with pytest.raises(ValidationError, match="unknown validation setting"):
        validate(lj, "fcc", "Ar", settings={"strian": 0.1})


def test_full_elastic_matrix_of_hcp_and_surface_energy_and_function_curves():
    from ase.build import surface

    from workbench.models.eam import EAM

    lj = builtin.LennardJones(species=("Ar",))
    lj.set_param_value("epsilon", [0.0104])
    lj.set_param_value("sigma", [3.4])
    lj.set_param_value("cutoff", [8.5])
    res = validate(lj, "hcp", "Ar", "lattice elastic surface", references=False,
                   settings={"fmax": 1e-5})
    C = np.array(res.details["elastic"]["matrix"])
    np.testing.assert_allclose(C, C.T, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(C) > 0)           # mechanically stable
    assert C[0, 0] == pytest.approx(C[1, 1], rel=1e-3)  # hexagonal symmetry
    assert C[5, 5] == pytest.approx((C[0, 0] - C[0, 1]) / 2, rel=2e-2)
    assert res.values["surface_energy"] > 0

    sw = builtin.StillingerWeber()
    out = validate(sw, "diamond", "Si", "surface", references=False)
    atoms = bulk("Si", "diamond", a=out.values["lattice_constant"], cubic=True)
    slab = surface(atoms, (1, 0, 0), 3, vacuum=8.0, periodic=True)
    slab.pbc = True
    slab.calc = sw.ase_calculator()
    from ase.optimize import LBFGS

    LBFGS(slab, logfile=None).run(fmax=1e-3)
    area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
    gamma = (slab.get_potential_energy() - len(slab) * -4.3364) / (2 * area)
    assert out.details["surface"]["eV_per_A2"] == pytest.approx(gamma, rel=1e-3)

    eam = EAM(("Al",))
    res = validate(eam, "fcc", "Al", "lattice functions", references=False)
    assert [c["name"] for c in res.details["functions"]] == \
        [c["name"] for c in eam.function_curves()]


def test_an_unstable_crystal_is_flagged():
    """Diamond held together by a pair potential reaching the second shell: imaginary
    phonons, and in MD the structure collapses to higher coordination."""
    lj = builtin.LennardJones(species=("Si",))
    lj.set_param_value("sigma", [2.1])
    lj.set_param_value("epsilon", [1.0])
    lj.set_param_value("cutoff", [5.0])
    res = validate(lj, "diamond", "Si", "lattice phonons md", references=False,
                   settings={"md_temperature": 1500, "md_time": 2000})
    ph = res.details["phonons"]
    assert ph["imaginary"] and res.values["phonon_min_frequency"] < -1.0
    assert ph["imaginary_qpoints"]
    assert res.values["md_held"] == 0.0
    assert res.details["md"]["coordination_start"] == 4.0
    assert res.details["md"]["coordination_end"] > 5.0
