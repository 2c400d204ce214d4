"""``workbench model --list`` and ``--echo-params``."""

import shutil

import pytest

from workbench.cli import main
from workbench.cli.model import parse_collections_list

SAMPLE = """
Knowledgebase of Interatomic Models (KIM)  ---  Model Collections Listing
===============================================================================

Current Working Directory Collection
-------------------------------------------------------------------------------
Model Drivers: '/tmp/x' 
\t--empty--

Portable Models: '/tmp/x' 
\t--empty--

User Collection
-------------------------------------------------------------------------------
Portable Models: '/home/u/.kim-api/portable-models' 
\tMy_Fit__MO_000000000000_000

System Collection
-------------------------------------------------------------------------------
Model Drivers: '/lib/kim-api/model-drivers' 
\tSW__MD_335816936951_004

Portable Models: '/lib/kim-api/portable-models' 
\tSW_StillingerWeber_1985_Si__MO_405512056662_005
\tLennardJones612_UniversalShifted__MO_959249795837_003

Simulator Models: '/lib/kim-api/simulator-models' 
\tSim_LAMMPS_Foo__SM_000000000000_000
"""


def test_parse_collections_list():
    assert parse_collections_list(SAMPLE) == [
        "LennardJones612_UniversalShifted__MO_959249795837_003",
        "My_Fit__MO_000000000000_000",
        "SW_StillingerWeber_1985_Si__MO_405512056662_005",
    ]


@pytest.mark.kim
def test_list_shows_builtins_plugins_and_kim(capsys):
    assert main(["model", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("LennardJones", "Morse", "StillingerWeber", "Tersoff"):
        assert f"\n  {name} " in out
    assert "Plugin models (entry-point group 'workbench.models'):" in out
    assert "\n  SW_StillingerWeber_1985_Si__MO_405512056662_005\n" in out
    assert "\n  Tersoff_LAMMPS_ErhartAlbe_2005_SiC__MO_903987585848_004\n" in out
    if shutil.which("kim-api-collections-management"):
        import subprocess

        listing = subprocess.run(["kim-api-collections-management", "list"],
                                 capture_output=True, text=True).stdout
        n = len(parse_collections_list(listing))
        assert f"Installed KIM models ({n}):" in out


def test_echo_params_builtin(capsys):
    pytest.importorskip("workbench.engine.sw")
    from workbench.models import StillingerWeber

    assert main(["model", "--echo-params", "StillingerWeber"]) == 0
    out = capsys.readouterr().out
    assert out == StillingerWeber().echo_model_params(None) + "\n"
    assert "name: gamma\nvalue: [2.51412]\nsize: 1\n" in out
    assert main(["model", "--echo-params", "StillingerWeber", "--species", "Si", "C"]) == 0
    assert "name: A\nvalue: [15.28484792 15.28484792 15.28484792]\nsize: 3\n" in capsys.readouterr().out


@pytest.mark.kim
def test_echo_params_kim_and_unknown(capsys):
    pytest.importorskip("workbench.models.kim")
    assert main(["model", "--echo-params", "SW_StillingerWeber_1985_Si__MO_405512056662_005"]) == 0
    out = capsys.readouterr().out
    assert "# Model: SW_StillingerWeber_1985_Si__MO_405512056662_005\n" in out
    assert "name: sigma\nvalue: [2.0951]\nsize: 1\n" in out
    assert main(["model", "--echo-params", "No_Such_Model__MO_000000000000_000"]) == 2
    err = capsys.readouterr().err
    assert "No_Such_Model__MO_000000000000_000" in err and "--list" in err
