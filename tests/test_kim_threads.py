"""KIM models evaluate configurations on several threads, one kim-api instance per
thread (a driver's Compute is not reentrant), with the serial path's numbers."""

import numpy as np
import pytest

import workbench.models.kim as kim
from workbench.engine import threads

pytestmark = pytest.mark.kim

SW = "SW_StillingerWeber_1985_Si__MO_405512056662_005"


def _evaluate(configs, nthreads, monkeypatch):
    from workbench.models import KIMModel

    monkeypatch.setattr(threads, "num_threads", lambda: nthreads)
    monkeypatch.setattr(kim, "num_threads", lambda: nthreads)
    model = KIMModel(SW, engine="kim")
    model.set_opt_params(A=[[14.0]], gamma=[[2.2]])  # pushed into every instance
    state = model.prepare(configs)
    return model, state, model.compute(state, forces=True, stress=True, jacobian=True,
                                       columns=[0, 5])


def test_two_threads_give_the_serial_numbers(si4_path, monkeypatch):
    from workbench.dataset import Dataset

    configs = Dataset(si4_path).get_configs() * 5  # 20 configurations
    m1, s1, one = _evaluate(configs, 1, monkeypatch)
    m2, s2, two = _evaluate(configs, 2, monkeypatch)
    # four groups per thread, each on its own instance; the threads take them in turn
    assert len(m1._clones) == 0 and len(m2._clones) == 7
    assert list(s1.extra["kim_groups"]) == [0, 20]
    assert list(s2.extra["kim_groups"]) == [0, 3, 5, 8, 10, 13, 15, 18, 20]
    assert s2.extra["kim"][0].kim_model is m2.kim_model
    assert s2.extra["kim"][-1].kim_model is m2._clones[6]
    owners = [kc.kim_model for kc in s2.extra["kim"]]
    assert len({id(m) for m in owners}) == 8
    for name in ("energy", "forces", "stress", "d_energy", "d_forces", "d_stress"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    np.testing.assert_array_equal(one.energy[:4], one.energy[4:8])
    assert np.abs(one.d_energy).min() > 0
    # a parameter change reaches the clone too
    m2.set_param_value("A", [15.0])
    m1.set_param_value("A", [15.0])
    e1 = m1.compute(s1, forces=False).energy
    e2 = m2.compute(s2, forces=False).energy
    assert np.array_equal(e1, e2) and not np.array_equal(e1, one.energy)
