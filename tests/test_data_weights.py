"""Weights against hand-computed values, subclass hook, weights file."""

import math

import numpy as np
import pytest

from workbench.data import Configuration, Dataset, MagnitudeInverseWeight, Weight
from workbench.errors import DatasetError


def _config(identifier="c0"):
    return Configuration(
        cell=np.eye(3) * 5.0, species=["Si", "C"],
        coords=[[0, 0, 0], [1.2, 1.3, 1.4]], PBC=[1, 1, 1], energy=-10.0,
        forces=[[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]], stress=[1, 2, 3, 4, 5, 6],
        identifier=identifier)


def test_default_weight_values():
    c = _config()
    assert (c.config_weight, c.energy_weight, c.forces_weight, c.stress_weight) == (1, 1, 1, 1)
    c.weight = Weight(config_weight=2.0, energy_weight=10.0, forces_weight=0.1,
                      stress_weight=0.0)
    assert (c.config_weight, c.energy_weight, c.forces_weight, c.stress_weight) == \
        (2.0, 10.0, 0.1, 0.0)


def test_magnitude_inverse_weight_hand_computed():
    w = MagnitudeInverseWeight(config_weight=3.0, weight_params={
        "energy_weight_params": [0.1, 0.2], "forces_weight_params": [1.0, 0.5],
        "stress_weight_params": 2.0})
    c = _config()
    c.weight = w
    assert c.config_weight == 3.0
    assert c.energy_weight == pytest.approx(1 / math.sqrt(0.01 + 0.04 * 100.0), rel=1e-15)
    f0 = 1 / math.sqrt(1.0 + 0.25 * 25.0)   # |(3, 4, 0)| = 5
    f1 = 1 / math.sqrt(1.0 + 0.25 * 4.0)    # |(0, 0, 2)| = 2
    assert c.forces_weight.shape == (2, 3)
    np.testing.assert_allclose(c.forces_weight, [[f0] * 3, [f1] * 3], rtol=1e-15)
    assert c.stress_weight == 0.5            # bare float: c1 = 2, c2 = 0
    c.weight = MagnitudeInverseWeight(weight_params={"stress_weight_params": [1.0, 1.0]})
    frob2 = 1 + 4 + 9 + 2 * (16 + 25 + 36)   # full symmetric tensor from Voigt
    assert c.stress_weight == pytest.approx(1 / math.sqrt(1 + frob2), rel=1e-15)
    # the template itself is not modified by compute_weight on the copies
    assert w.energy_weight == 1.0


def test_each_config_owns_its_weight(si4_path):
    ds = Dataset(si4_path, MagnitudeInverseWeight(weight_params={
        "forces_weight_params": [0.1, 1.0]}))
    ws = [c.weight for c in ds]
    assert len({id(w) for w in ws}) == 4
    for c in ds:
        norms = np.linalg.norm(c.forces, axis=1)
        np.testing.assert_allclose(c.forces_weight[:, 2], 1 / np.sqrt(0.01 + norms ** 2),
                                   rtol=1e-14)
    assert not np.array_equal(ds[0].forces_weight, ds[1].forces_weight)


class WeightForCracks(Weight):
    def __init__(self, energy_weight, forces_weight):
        super().__init__(energy_weight=energy_weight, forces_weight=forces_weight)

    def compute_weight(self, config):
        if "with_cracks" in config.identifier:
            self._config_weight = 10.0


def test_subclass_hook_by_identifier():
    w = WeightForCracks(energy_weight=1.0, forces_weight=0.1)
    a = Configuration.from_ase(_config().to_ase(), weight=w, identifier="bulk_1")
    b = Configuration.from_ase(_config().to_ase(), weight=w, identifier="slab_with_cracks_2")
    assert a.config_weight == 1.0 and b.config_weight == 10.0
    assert b.forces_weight == 0.1 and w.config_weight == 1.0


def test_per_atom_force_weights():
    c = _config()
    c.weight = Weight(forces_weight=np.array([1.0, 0.25]))
    np.testing.assert_array_equal(c.forces_weight, [[1, 1, 1], [0.25, 0.25, 0.25]])
    c.order_by_species()   # C first: per-atom weights follow the atoms
    assert c.species == ["C", "Si"]
    np.testing.assert_array_equal(c.forces_weight[:, 0], [0.25, 1.0])
    np.testing.assert_array_equal(c.forces[0], [0.0, 0.0, 2.0])
    with pytest.raises(DatasetError, match=r"configuration c0: per-atom forces_weight has "
                                           r"shape \(3,\); expected \(2,\) or \(2, 3\)"):
        c.weight = Weight(forces_weight=np.ones(3))


def test_weights_file(tmp_path, si4_path):
    import shutil
    for f in sorted(si4_path.glob("*.xyz")):
        shutil.copy(f, tmp_path / f.name)
    ds = Dataset(tmp_path)
    names = sorted(f.name for f in tmp_path.glob("*.xyz"))
    wf = tmp_path / "weights.txt"
    wf.write_text("# identifier config energy forces stress\n"
                  f"{names[0]} 2.0 1.0 0.1 0.0   # relative to this file\n\n"
                  f"'{tmp_path / names[2]}' 0.5 3.0 0.2 1.0\n")
    assert ds.apply_weights_file(wf) == 2
    by = {c.path.name: c for c in ds}
    c0, c2, c1 = by[names[0]], by[names[2]], by[names[1]]
    assert (c0.config_weight, c0.energy_weight, c0.forces_weight, c0.stress_weight) == \
        (2.0, 1.0, 0.1, 0.0)
    assert (c2.config_weight, c2.energy_weight, c2.forces_weight) == (0.5, 3.0, 0.2)
    assert c1.config_weight == 1.0
    bad = tmp_path / "bad.txt"
    bad.write_text("# header\nnot_there.xyz 1 1 1 1\n")
    with pytest.raises(DatasetError) as exc:
        ds.apply_weights_file(bad)
    assert exc.value.line == 2 and str(bad) in str(exc.value)
    assert "'not_there.xyz' matches no configuration" in str(exc.value)
    bad.write_text(f"{names[0]} 1 1 x 1\n{names[0]} 1 1\n")
    with pytest.raises(DatasetError, match=r"line 1: non-numeric"):
        ds.apply_weights_file(bad)
