"""Spline EAM: forces, stress and every Jacobian column against finite differences, the
one-pass gradient, clamped ends, and installed OpenKIM spline-EAM models through kimpy."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import (Config, fd_forces, fd_param_jacobians, fd_stress, rel_err)

from workbench.engine.batch import pack
from workbench.engine.eam import gradient
from workbench.engine.splines import natural_second_derivatives, spline_values
from workbench.errors import EngineError, ParameterError
from workbench.models.eam import EAM

AL_KIM = "EAM_CubicNaturalSpline_ErcolessiAdams_1994_Al__MO_800509458712_002"
NI_KIM = "EAM_CubicNaturalSpline_AngeloMoodyBaskes_1995_Ni__MO_800536961967_003"


def fcc(a, rep, rattle, seed, species="Cu", tilt=0.0):
    from ase.build import bulk

    at = bulk(species, "fcc", a=a, cubic=True).repeat(rep)
    at.rattle(rattle, seed=seed)
    at.cell[0, 1] = tilt
    return Config(at.positions.copy(), np.array(at.cell[:]), (True, True, True),
                  list(at.get_chemical_symbols()))


@pytest.fixture(scope="module")
def cuni():
    """A CuNi EAM with random knot values, one function on its own non-uniform knots."""
    knots = {"rho_Ni": np.array([0.0, 1.2, 2.0, 2.4, 2.9, 3.3, 3.8, 4.21188154213767])}
    model = EAM(("Cu", "Ni"), knots=knots)
    rng = np.random.default_rng(0)
    for name, p in model.model_params.items():
        model.set_param_value(name, p.value + rng.normal(0, 0.05, len(p)))
    conf = fcc(3.6, (2, 2, 1), 0.1, 1, tilt=0.3)
    conf.species = ["Ni" if k in (1, 4, 6) else "Cu" for k in range(len(conf.species))]
    cluster = Config(conf.coords[:9] * 1.02, np.eye(3) * 20.0, (False, False, False),
                     conf.species[:9])
    return model, [conf, cluster]


def test_forces_and_stress_match_finite_differences(cuni):
    model, confs = cuni
    params = model.spec_params()
    for conf in confs:
        b = pack([conf], model.get_influence_distance(), model.species)
        res = model.spec.compute(b, params, forces=True, stress=True)
        assert rel_err(res.forces, fd_forces(model.spec, conf, params, model.species)) < 1e-7
        if all(conf.PBC):
            fd = fd_stress(model.spec, conf, params, model.species)
            assert rel_err(res.stress[0], fd) < 1e-7
            assert np.abs(fd).max() > 1e-2
        else:
            assert np.isnan(res.stress).all()


def test_every_jacobian_column_matches_finite_differences(cuni):
    model, confs = cuni
    params = model.spec_params()
    dE, dF, dS, batch = fd_param_jacobians(model.spec, confs, params, model.species,
                                           rel_step=1e-5)
    res = model.spec.compute(batch, params, forces=True, stress=True, jacobian=True)
    G = sum(model.layout.sizes)
    assert res.d_energy.shape == (2, G) and res.d_forces.shape == (batch.natoms, 3, G)
    assert rel_err(res.d_energy, dE) < 1e-6
    assert rel_err(res.d_forces, dF) < 1e-6
    assert rel_err(res.d_stress[:1], dS[:1]) < 1e-6
    # the dependent knots of clamped functions carry no column of their own
    for name, c in model.dependent_knots().items():
        col = model.flat_offsets()[name] + c
        assert not res.d_energy[:, col].any() and not res.d_forces[..., col].any()
    # columns actually used: every F, rho and rphi function moves some force
    assert (np.abs(res.d_forces).max(axis=(0, 1)) > 0).sum() > G // 2


def test_gradient_pass_and_compact_columns(cuni):
    model, confs = cuni
    state = model.prepare(confs)
    full = model.compute(state, forces=True, jacobian=True)
    cols = np.array([40, 3, 17, 3, 60])
    part = model.compute(state, forces=True, jacobian=True, columns=cols)
    np.testing.assert_allclose(part.d_forces, full.d_forces[..., cols], rtol=1e-12,
                               atol=1e-14)
    rng = np.random.default_rng(3)
    N = state.batch.natoms
    ew, eref = rng.uniform(0.5, 2, 2), rng.normal(-40, 3, 2)
    fw, fref = rng.uniform(0.5, 2, (N, 3)), rng.normal(0, 1, (N, 3))
    res, g = model.compute_gradient(state, cols, ew, eref, fw, fref)
    ref = (ew * (full.energy - eref)) @ full.d_energy[:, cols] + np.einsum(
        "ia,iak->k", fw * (full.forces - fref), full.d_forces[..., cols])
    np.testing.assert_allclose(g, ref, rtol=1e-11, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_array_equal(res.forces, full.forces)
    _, g_e = gradient(state.batch, model.layout, model._flat_values(), cols, ew, eref)
    np.testing.assert_allclose(g_e, (ew * (full.energy - eref)) @ full.d_energy[:, cols],
                               rtol=1e-11)


def test_clamped_function_has_zero_value_and_slope_at_the_cutoff(cuni):
    model, _ = cuni
    name = "rphi_Cu_Ni"
    x = model.layout.knots[name]
    model.set_param_value(name, np.linspace(1.0, -0.2, len(x)) ** 2 - 0.04)
    y = model.model_params[name].value
    assert y[-1] != 0.0  # the last value is the user's; fix it at 0 to end at zero
    h = 1e-6
    t = np.array([x[-1] - 2 * h, x[-1] - h])
    v = spline_values(x, y, t, radial=False)
    slope = (v[1] - v[0]) / h
    assert abs(slope) < 1e-5
    m = natural_second_derivatives(x, y)
    assert m[0] == 0.0 and m[-1] == 0.0


def test_bad_layouts_and_batches_are_named(cuni):
    model, confs = cuni
    with pytest.raises(ParameterError, match="rho_Cu: knot positions"):
        EAM(("Cu",), knots={"rho_Cu": [0.0, 2.0, 1.0]})
    with pytest.raises(ParameterError, match="only radial functions"):
        EAM(("Cu",), clamped=["F_Cu"])
    b = pack(confs[:1], 3.0, model.species)
    with pytest.raises(EngineError, match="smaller than the EAM cutoff"):
        model.spec.compute(b, model.spec_params())
    with pytest.raises(ParameterError, match="'F_Cu' has 3 value"):
        model.spec.compute(pack(confs[:1], 5.0, model.species),
                           {**model.spec_params(), "F_Cu": np.zeros(3)})


def test_function_curves_cover_every_function(cuni):
    model, _ = cuni
    curves = model.function_curves(npoints=50)
    assert [c["name"] for c in curves] == ["F_Cu", "F_Ni", "rho_Cu", "rho_Ni", "phi_Cu_Cu",
                                           "phi_Cu_Ni", "phi_Ni_Ni"]
    assert {c["group"] for c in curves} == {"F", "rho", "phi"}
    rho = curves[3]
    x = model.layout.knots["rho_Ni"]
    np.testing.assert_allclose(rho["y"][-1], 0.0)
    inside = (rho["x"] > x[3]) & (rho["x"] < x[4])
    assert inside.any() and rho["x_label"] == "r (Angstrom)"
    phi = curves[4]
    np.testing.assert_allclose(phi["y"] * phi["x"], spline_values(
        model.layout.knots["rphi_Cu_Cu"], model.model_params["rphi_Cu_Cu"].value, phi["x"],
        True), rtol=1e-12)


@pytest.mark.kim
@pytest.mark.parametrize("name, el, a", [(AL_KIM, "Al", 4.05), (NI_KIM, "Ni", 3.52)])
def test_kim_spline_models_are_reproduced(name, el, a):
    from workbench.models.kim import KIMModel

    model = EAM.from_kim(name)
    assert model.layout.clamped == frozenset()
    confs = [fcc(a, (2, 2, 2), 0.05, 0, el), fcc(a, (3, 2, 2), 0.15, 1, el, tilt=0.2)]
    ours = model.compute(model.prepare(confs), forces=True, stress=True)
    kim = KIMModel(name)
    ref = kim.compute(kim.prepare(confs), forces=True, stress=True)
    assert rel_err(ours.energy, ref.energy) < 1e-10
    assert rel_err(ours.forces, ref.forces) < 1e-10
    assert rel_err(ours.stress, ref.stress) < 1e-10
    assert np.abs(ref.forces).max() > 0.1


@pytest.mark.kim
def test_from_setfl_fits_the_lammps_table():
    from workbench.models.kim import KIMModel

    path = "/usr/share/lammps/potentials/Cu_u3.eam"
    model = EAM.from_setfl(path, n_r=40, n_rho=40)
    assert model.species == ("Cu",) and model.layout.cutoff == pytest.approx(4.95)
    confs = [fcc(3.615, (2, 2, 2), 0.08, 2)]
    ours = model.compute(model.prepare(confs), forces=True)
    kim = KIMModel("EAM_Dynamo_FoilesBaskesDaw_1986Universal3_Cu__MO_666348409573_004")
    ref = kim.compute(kim.prepare(confs), forces=True)
    assert abs(ours.energy[0] - ref.energy[0]) / 32 < 2e-3
    assert rel_err(ours.forces, ref.forces) < 2e-2


@pytest.mark.parametrize("symbol, structure, a_ref", [("Cu", "fcc", 3.61), ("Fe", "bcc", 2.87)])
def test_default_model_is_stable_at_its_lattice_constant(symbol, structure, a_ref):
    from ase.build import bulk
    from scipy.optimize import minimize_scalar

    model = EAM((symbol,))
    atoms = bulk(symbol, structure, a=a_ref, cubic=True)
    atoms.calc = model.ase_calculator()

    def energy(a):
        atoms.set_cell(np.eye(3) * a, scale_atoms=True)
        return atoms.get_potential_energy() / len(atoms)

    best = minimize_scalar(energy, bounds=(0.8 * a_ref, 1.2 * a_ref), method="bounded")
    assert abs(best.x / a_ref - 1) < 0.02
    assert energy(0.9 * a_ref) > best.fun + 0.05 and energy(1.1 * a_ref) > best.fun + 0.05


def test_save_and_load_keep_knots_values_and_fit_choices(tmp_path):
    from workbench.models import load_model

    model = EAM(("Cu", "Ni"), knots={"F_Ni": [0.0, 5.0, 10.0, 30.0]})
    model.set_fit_knots(r_min=1.8)
    model.save(tmp_path / "eam.yaml")
    back = load_model(tmp_path / "eam.yaml")
    assert isinstance(back, EAM) and back.layout.sizes == model.layout.sizes
    assert back.layout.clamped == model.layout.clamped
    np.testing.assert_array_equal(back.layout.knots["F_Ni"], [0.0, 5.0, 10.0, 30.0])
    for name, p in model.model_params.items():
        np.testing.assert_array_equal(back.model_params[name].value, p.value)
        np.testing.assert_array_equal(back.model_params[name].fixed, p.fixed)
    assert back.get_opt_param_names() == model.get_opt_param_names()


def test_loss_gradient_through_the_one_pass_path_matches_finite_differences(cuni):
    from workbench.calculators import Calculator
    from workbench.data.configuration import Configuration
    from workbench.loss import Loss

    model, confs = cuni
    rng = np.random.default_rng(8)
    configs = []
    for c in confs:
        n = len(c.species)
        configs.append(Configuration(c.cell, c.species, c.coords, c.PBC,
                                     energy=-3.0 * n + rng.normal(),
                                     forces=rng.normal(0, 0.3, (n, 3))))
    model.set_opt_params(F_Cu=[[v] for v in model.model_params["F_Cu"].value],
                         rphi_Cu_Ni=[[v] for v in model.model_params["rphi_Cu_Ni"].value])
    model.set_param_transform("F_Cu", None)
    calc = Calculator(model)
    calc.create(configs)
    loss = Loss(calc)
    x = loss.x0()
    f, g = loss.loss_and_grad(x)
    assert f == pytest.approx(loss.loss(x), rel=1e-12)
    h = 1e-6
    for k in (0, 5, 12, 20):
        e = np.zeros_like(x)
        e[k] = h
        fd = (loss.loss(x + e) - loss.loss(x - e)) / (2 * h)
        assert g[k] == pytest.approx(fd, rel=1e-5, abs=1e-6 * np.abs(g).max())
    assert np.abs(g).max() > 1e-3


def cuni_config():
    conf = fcc(3.58, (2, 2, 2), 0.08, 3, "Cu", tilt=0.1)
    conf.species = ["Ni" if k % 3 == 0 else "Cu" for k in range(len(conf.species))]
    return conf


@pytest.mark.kim
def test_two_species_dynamo_tables_from_kim():
    from workbench.models.kim import KIMModel

    name = "EAM_Dynamo_OnatDurukanoglu_2014_CuNi__MO_592013496703_005"
    model = EAM.from_kim(name)
    assert model.species == ("Ni", "Cu") and model.layout.sizes == [9000] * 4 + [9000] * 3
    conf = cuni_config()
    ours = model.compute(model.prepare([conf]), forces=True)
    kim = KIMModel(name)
    ref = kim.compute(kim.prepare([conf]), forces=True)
    # the driver interpolates its 9000-point tables with Hermite cubics, we with splines
    assert abs(ours.energy[0] - ref.energy[0]) / 32 < 1e-9
    assert rel_err(ours.forces, ref.forces) < 1e-5


@pytest.mark.lammps
def test_from_setfl_matches_lammps_eam_alloy_on_the_same_file(tmp_path):
    import subprocess

    from test_kim_export_lammps import LMP, lammps_cell

    path = "/usr/share/lammps/potentials/CuNi.eam.alloy"
    model = EAM.from_setfl(path, n_r=250, n_rho=250)
    conf = cuni_config()
    ours = model.compute(model.prepare([conf]), forces=True)
    cell = np.asarray(conf.cell)
    L = lammps_cell(cell)
    xyz = (np.linalg.solve(cell.T, conf.coords.T).T % 1.0) @ L
    types = {"Ni": 1, "Cu": 2}
    lines = ["CuNi", "", f"{len(xyz)} atoms", "2 atom types", "",
             f"0 {float(L[0, 0])!r} xlo xhi", f"0 {float(L[1, 1])!r} ylo yhi",
             f"0 {float(L[2, 2])!r} zlo zhi",
             f"{float(L[1, 0])!r} {float(L[2, 0])!r} {float(L[2, 1])!r} xy xz yz", "",
             "Masses", "", "1 58.69", "2 63.55", "", "Atoms # atomic", ""]
    lines += [f"{i + 1} {types[s]} {float(x)!r} {float(y)!r} {float(z)!r}"
              for i, (s, (x, y, z)) in enumerate(zip(conf.species, xyz))]
    (tmp_path / "data.lmp").write_text("\n".join(lines) + "\n")
    (tmp_path / "in.lmp").write_text(
        "units metal\nboundary p p p\nbox tilt large\nread_data data.lmp\n"
        f"pair_style eam/alloy\npair_coeff * * {path} Ni Cu\nrun 0\n"
        'print "WB_E $(pe:%.12g)"\n')
    out = subprocess.run([LMP, "-in", "in.lmp", "-log", "none"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120).stdout
    energy = float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("WB_E")))
    assert abs(ours.energy[0] - energy) / 32 < 1e-5
