"""The EAM in the model picker: chosen with its species, it carries its function curves."""

from workbench.ui.model_picker import ModelPicker


def test_eam_from_the_picker():
    got = []
    p = ModelPicker(on_model=got.append)
    assert "EAM" in p.name_w.options
    p.name_w.value = "EAM"
    p.species_w.value = "Al Cu"
    p.create_w.click()
    model = got[0]
    assert type(model).__name__ == "EAM" and model.species == ("Al", "Cu")
    assert list(model.model_params)[:3] == ["F_Al", "F_Cu", "rho_Al"]
    groups = [c["group"] for c in model.function_curves()]
    assert groups == ["F", "F", "rho", "rho", "phi", "phi", "phi"]
    p.species_w.value = "Al Al"
    p.create_w.click()
    assert "duplicates" in p.message_w.value and got == [model]
