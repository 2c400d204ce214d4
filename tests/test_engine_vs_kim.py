"""Our Stillinger-Weber and Tersoff kernels against the installed OpenKIM models through
kimpy: default parameters read back from the models, energies, forces and virial/volume
on the bundled data sets, and changed parameters set on both sides."""

import numpy as np
import pytest

from engine_helpers import load_dir, rattled
from workbench.engine import sw, tersoff
from workbench.engine.batch import pack

from kim_helpers import kim_compute, kim_model, kim_param_index, kim_species_code

pytestmark = pytest.mark.kim

SW_KIM = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
TERSOFF_KIM = "Tersoff_LAMMPS_ErhartAlbe_2005_SiC__MO_903987585848_004"


def kim_values(model, name):
    k = kim_param_index(model, name)
    dtype, extent = model.get_parameter_metadata(k)[:2]
    get = model.get_parameter_double if str(dtype) == "Double" else model.get_parameter_int
    return np.array([get(k, i) for i in range(extent)], dtype=float)


def compare(spec, configs, params, species, model, floor=1e-3):
    """Max relative deviations (energy, forces, stress) over the configurations.

    Forces and stress are relative to the configuration's largest component, but at least
    ``floor`` (eV/A, eV/A^3): perfect crystals have forces that are round-off only.
    """
    batch = pack(configs, spec.influence_distance(params), species)
    r = spec.compute(batch, params, forces=True, stress=True)
    de = df = ds = 0.0
    for c, conf in enumerate(configs):
        e, f, v = kim_compute(model, conf.coords, conf.cell, conf.PBC, conf.species)
        a0, a1 = batch.config_offsets[c], batch.config_offsets[c + 1]
        de = max(de, abs(r.energy[c] - e) / abs(e))
        df = max(df, np.abs(r.forces[a0:a1] - f).max() / max(np.abs(f).max(), floor))
        s = v / batch.volumes[c]
        ds = max(ds, np.abs(r.stress[c] - s).max() / max(np.abs(s).max(), floor))
    return de, df, ds


def test_sw_defaults_are_the_kim_model_values():
    model = kim_model(SW_KIM)
    ours = sw.SPEC.default_params(("Si",))
    for name in sw.PARAM_NAMES:
        np.testing.assert_array_equal(ours[name], kim_values(model, name), err_msg=name)
    assert [model.get_parameter_metadata(k)[2]
            for k in range(model.get_number_of_parameters())] == list(sw.PARAM_NAMES)


def test_sw_whole_si_set_matches_kim(si_path):
    configs = load_dir(si_path)
    assert len(configs) == 1000
    de, df, ds = compare(sw.SPEC, configs, sw.SPEC.default_params(("Si",)), ("Si",), SW_KIM)
    print(f"SW vs KIM on the Si set: energy {de:.2e}, forces {df:.2e}, stress {ds:.2e}")
    assert de < 1e-8 and df < 1e-8 and ds < 1e-8


def test_sw_changed_parameters_match_kim(si_path):
    model = kim_model(SW_KIM)
    new = {"A": 14.1, "B": 0.57, "p": 4.3, "q": 0.2, "sigma": 2.05, "gamma": 2.3,
           "lambda": 40.0, "costheta0": -0.31}
    for name, value in new.items():
        model.set_parameter(kim_param_index(model, name), 0, value)
    model.clear_then_refresh()
    params = sw.SPEC.default_params(("Si",))
    params.update({k: np.array([v]) for k, v in new.items()})
    rng = np.random.default_rng(4)
    configs = [rattled(c, 0.1, rng) for c in load_dir(si_path / "NVT_runs", step=60)]
    de, df, ds = compare(sw.SPEC, configs, params, ("Si",), model)
    assert de < 1e-8 and df < 1e-8 and ds < 1e-8


def _tersoff_from_kim(model, species):
    """Our parameter dict (in ``species`` order) from the KIM model's arrays (in KIM's
    species-code order)."""
    S = len(species)
    codes = [kim_species_code(model, s) for s in species]
    nk = int(round(kim_values(model, "A").size ** 0.5))
    out = {}
    for name in tersoff.PARAM_NAMES:
        v = kim_values(model, name)
        if name in tersoff.PAIR_NAMES:
            v = v.reshape(nk, nk)[np.ix_(codes, codes)]
        else:
            v = v.reshape(nk, nk, nk)[np.ix_(codes, codes, codes)]
        out[name] = v.reshape(-1)
        assert out[name].size == (S * S if name in tersoff.PAIR_NAMES else S ** 3)
    return out


@pytest.mark.parametrize("species", [("C", "Si"), ("Si", "C"), ("Si",)])
def test_tersoff_defaults_are_the_kim_model_values(species):
    model = kim_model(TERSOFF_KIM)
    ours = tersoff.SPEC.default_params(species)
    theirs = _tersoff_from_kim(model, species)
    for name in tersoff.PARAM_NAMES:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_tersoff_sic_set_matches_kim(sic_path):
    configs = load_dir(sic_path)
    assert len(configs) == 10
    p = tersoff.SPEC.default_params(("C", "Si"))
    de, df, ds = compare(tersoff.SPEC, configs, p, ("C", "Si"), TERSOFF_KIM)
    print(f"Tersoff vs KIM on the SiC set: energy {de:.2e}, forces {df:.2e}, "
          f"stress {ds:.2e}")
    assert de < 1e-8 and df < 1e-8 and ds < 1e-8


def test_tersoff_si_configs_match_kim(si_path):
    configs = load_dir(si_path, step=20)
    p = tersoff.SPEC.default_params(("Si",))
    de, df, ds = compare(tersoff.SPEC, configs, p, ("Si",), TERSOFF_KIM)
    assert de < 1e-8 and df < 1e-8 and ds < 1e-8


def test_tersoff_changed_parameters_match_kim(sic_path):
    """Set distinct values on the KIM side (in its species order), read them back into
    our order, and compare on rattled SiC: this pins the index layout of every array.

    A, lambda1 and the (i, j, j) cutoffs stay symmetric in (i, j): the driver takes the
    repulsive term of a pair from its lower-indexed atom, we average both orders.
    """
    model = kim_model(TERSOFF_KIM)
    rng = np.random.default_rng(8)
    changes = {"A": 1.03, "B": 0.98, "lambda1": 1.02, "lambda2": 0.99, "beta": 1.1,
               "n": 0.9, "lambda3": None, "gamma": 1.05, "c": 0.97, "d": 1.02, "h": 0.95,
               "Rc": 1.01, "Dc": 0.9}
    symmetric = ("A", "lambda1", "Rc", "Dc")
    for name, factor in changes.items():
        k = kim_param_index(model, name)
        v = kim_values(model, name)
        ncode = 2
        for idx in range(v.size):
            codes = np.unravel_index(idx, (ncode,) * (2 if v.size == 4 else 3))
            if factor is None:
                new = 0.2 + 0.1 * idx
            elif name in symmetric:
                new = v[idx] * factor * (1 + 0.01 * (min(codes) + 2 * max(codes)))
            else:
                new = v[idx] * factor * (1 + 0.01 * idx)
            model.set_parameter(k, idx, float(new))
    model.clear_then_refresh()
    species = ("C", "Si")
    p = _tersoff_from_kim(model, species)
    assert p["lambda3"].max() > 0.5 and len(set(p["B"])) == 4 and len(set(p["h"])) == 8
    configs = [rattled(c, 0.08, rng) for c in load_dir(sic_path, limit=3)]
    de, df, ds = compare(tersoff.SPEC, configs, p, species, model)
    assert de < 1e-8 and df < 1e-8 and ds < 1e-8
