"""ModelPicker: built-in and KIM listings, errors shown, the neural-network builder."""

import pytest

from workbench.ui.model_picker import ModelPicker, ml_available


def test_builtin_models_and_errors():
    got = []
    p = ModelPicker(on_model=got.append)
    assert set(p.name_w.options) >= {"LennardJones", "Morse", "StillingerWeber", "Tersoff"}
    p.name_w.value = "Morse"
    p.species_w.value = "Si, C"
    model = p.create_w.click() or p.model
    assert got == [model] and type(model).__name__ == "Morse"
    assert model.species == ("Si", "C")
    p.species_w.value = "Si Si"
    p.create_w.click()
    assert "duplicates" in p.message_w.value and got == [model]


@pytest.mark.kim
def test_kim_model_from_the_picker():
    got = []
    p = ModelPicker(on_model=got.append)
    p.source_w.value = "OpenKIM"
    assert p.species_w.disabled
    p.name_w.value = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
    p.create_w.click()
    assert type(got[0]).__name__ == "KIMModel"
    assert "A" in got[0].model_params


@pytest.mark.skipif(not ml_available(), reason="workbench.ml is not installed")
def test_neural_network_builder():
    p = ModelPicker()
    p.nn_hidden_w.value = "8, 4"
    p.nn_activation_w.value = "ReLU"
    net = p.build_nn()
    assert p.nn_model is net
    linear = [m for m in net.modules() if type(m).__name__ == "Linear"]
    assert [(m.in_features, m.out_features) for m in linear] == [(51, 8), (8, 4), (4, 1)]
    assert sum(type(m).__name__ == "ReLU" for m in net.modules()) == 2
    assert "457 weights" in p.nn_message_w.value
    p.nn_hidden_w.value = "ten"
    assert p.build_nn() is None and "integers" in p.nn_message_w.value
    assert p.nn_model is net


def test_kim_names_announce_their_species():
    from workbench.ui.model_picker import covers, kim_species

    assert kim_species("SW_StillingerWeber_1985_Si__MO_405512056662_006") == {"Si"}
    assert kim_species("Tersoff_LAMMPS_Tersoff_1989_SiC__MO_171585019474_003") == {"Si", "C"}
    assert kim_species("EAM_Dynamo_Zhou_2004_CuAgAu__MO_318213562153_000") == {"Cu", "Ag", "Au"}
    assert kim_species("TIDP_RajanWarnerCurtin_2016F_User01__MO_246297839798_001") is None
    assert kim_species("ex_model_Ar_P_LJ") is None
    assert covers("Tersoff_LAMMPS_Tersoff_1989_SiC__MO_171585019474_003", ["Si"])
    assert not covers("Tersoff_LAMMPS_Tersoff_1988_C__MO_000000000000_000", ["Si"])


@pytest.mark.kim
def test_kim_list_is_filtered_to_the_data_species_searchable_and_preselected():
    from workbench.models import KIMModel

    current = KIMModel("SW_StillingerWeber_1985_Si__MO_405512056662_005")
    p = ModelPicker(current=current, data_species=("Si",))
    assert p.source_w.value == "OpenKIM"
    names = p.name_w.options
    assert names and all("Si" in n for n in names)
    assert not any(n.startswith("Tersoff_LAMMPS_Tersoff_1988_C_") for n in names)
    assert p.name_w.value == "SW_StillingerWeber_1985_Si__MO_405512056662_005"
    assert "of 4" in p.count_w.value and "OpenKIM models cover Si" in p.count_w.value
    assert "current model: <b>SW_StillingerWeber_1985_Si__MO_405512056662_005 (Si)</b>" \
        in p.message_w.value
    p.search_w.value = "tersoff"
    assert p.name_w.options and all("Tersoff" in n for n in p.name_w.options)
