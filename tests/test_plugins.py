"""The entry-point plugin registry: installed example plugins are found, broken plugins
(import error, missing attribute, wrong kind) are reported by entry-point name without
stopping the others, and the CLI lists everything."""

import sys
import textwrap
import warnings

import pytest

from workbench import plugins
from workbench.cli import main


def _fake_distribution(root, name, entry_points: str, modules: dict):
    """A minimal installed distribution (``*.dist-info`` with entry_points.txt) under
    ``root``, plus its modules; ``root`` goes on sys.path."""
    info = root / f"{name}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for mod, src in modules.items():
        (root / f"{mod}.py").write_text(textwrap.dedent(src))


@pytest.fixture()
def broken_plugins(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "wb_broken_plugins", """
        [workbench.models]
        ImportFails = wb_broken_import:Model
        NoSuchAttr = wb_ok_module:DoesNotExist
        NotAModel = wb_ok_module:not_a_model
        GoodPair = wb_ok_module:GoodPair

        [workbench.weights]
        NotAWeight = wb_ok_module:GoodPair

        [workbench.residuals]
        scaled = wb_ok_module:scaled_residual
        """, {
        "wb_broken_import": "import a_module_that_is_not_installed_anywhere\n",
        "wb_ok_module": """
            from workbench.models.builtin import StillingerWeber

            class GoodPair(StillingerWeber):
                '''A renamed SW used to check that good plugins still load.'''

            def not_a_model():
                return 1

            def scaled_residual(identifier, natoms, weight, prediction, reference, data):
                return 2.0 * (prediction - reference)
            """,
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.refresh()
    yield
    for mod in ("wb_broken_import", "wb_ok_module"):
        sys.modules.pop(mod, None)
    monkeypatch.undo()
    plugins.refresh()


def test_installed_example_plugins_are_registered():
    plugins.refresh()
    models = plugins.available_models()
    assert models["Buckingham"].__name__ == "Buckingham"
    assert plugins.available_weights()["WeightForCracks"].__name__ == "WeightForCracks"
    assert "huber_energy_forces" in plugins.available_residuals()
    assert plugins.available_descriptors() == {} or all(
        isinstance(v, type) for v in plugins.available_descriptors().values())
    info = plugins.registered("workbench.models")["Buckingham"]
    assert info.dist == "workbench-buckingham" and info.version == "0.1.0"
    assert plugins.load_errors() == []


def test_broken_plugins_reported_by_name_others_load(broken_plugins):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = plugins.available_models()
    assert "GoodPair" in models and "Buckingham" in models
    for bad in ("ImportFails", "NoSuchAttr", "NotAModel"):
        assert bad not in models
    errors = {e.name: e for e in plugins.load_errors("workbench.models")}
    assert set(errors) == {"ImportFails", "NoSuchAttr", "NotAModel"}
    assert "a_module_that_is_not_installed_anywhere" in errors["ImportFails"].reason
    assert "ModuleNotFoundError" in errors["ImportFails"].reason
    assert "DoesNotExist" in errors["NoSuchAttr"].reason
    assert "subclass of workbench.models.model.Model" in errors["NotAModel"].reason
    assert errors["NoSuchAttr"].target == "wb_ok_module:DoesNotExist"
    messages = [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)]
    assert len(messages) == 3 and any("'ImportFails'" in m for m in messages)
    # the other groups
    assert "NotAWeight" not in plugins.available_weights()
    assert [e.name for e in plugins.load_errors("workbench.weights")] == ["NotAWeight"]
    assert plugins.available_residuals()["scaled"].__name__ == "scaled_residual"
    with pytest.raises(plugins.PluginError, match="ImportFails"):
        plugins.get("workbench.models", "ImportFails")


def test_cli_lists_plugins_and_load_errors(broken_plugins, capsys):
    assert main(["plugins"]) == 1  # load errors make the exit status non-zero
    out = capsys.readouterr().out
    assert "workbench.models:" in out and "workbench.descriptors:" in out
    assert "Buckingham" in out and "[workbench-buckingham 0.1.0]" in out
    assert "GoodPair" in out and "WeightForCracks" in out and "scaled" in out
    line = [ln for ln in out.splitlines() if ln.strip().startswith("ImportFails")][0]
    assert "LOAD ERROR" in line and "a_module_that_is_not_installed_anywhere" in line
    assert main(["model", "--list"]) == 0
    out = capsys.readouterr().out
    assert "GoodPair" in out and "Buckingham" in out
    assert "NoSuchAttr" in out and "LOAD ERROR" in out
    assert main(["model", "--echo-params", "GoodPair"]) == 0
    assert "name: lambda" in capsys.readouterr().out


def test_cli_plugins_clean_exit(capsys):
    plugins.refresh()
    assert main(["plugins", "--group", "weights"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("workbench.weights:\n")
    assert "WeightForCracks" in out and "workbench_crack_weight:WeightForCracks" in out


def test_loss_accepts_plugin_residual_by_name(si4_path, broken_plugins):
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset
    from workbench.errors import LossError
    from workbench.loss import Loss
    from workbench.models import StillingerWeber

    model = StillingerWeber()
    model.set_opt_params(A=[[10.0]])
    calc = Calculator(model)
    calc.create(Dataset(si4_path).get_configs())
    plain = Loss(calc)
    scaled = Loss(calc, residual_fn="scaled")
    x = plain.x0()
    # 2 (p - q) without weights/normalization vs the built-in's (p - q)/N
    assert scaled.loss(x) > plain.loss(x)
    with pytest.raises(LossError, match="huber_energy_forces"):
        Loss(calc, residual_fn="no_such_residual")


def test_unknown_group():
    with pytest.raises(Exception, match="unknown plugin group"):
        plugins.registered("workbench.nothing")
