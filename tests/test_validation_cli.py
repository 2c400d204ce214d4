"""Ensembles (bootstrap members in processes, threads and Dask), the ``workbench validate``
command (saved model, KIM name, ensemble file, JSON, HTML) and the fit report's
properties section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.cli import main
from workbench.models import builtin
from workbench.validation import ValidationError, validate
from workbench.validation.ensemble import (
    load_ensemble,
    save_ensemble,
    validate_ensemble,
)

PROPS = "lattice eos elastic phonons"


@pytest.fixture(scope="module")
def bootstrap(si_path):
    from workbench.analysis.bootstrap import Bootstrap
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset, Weight
    from workbench.loss import Loss

    configs = Dataset(si_path / "varying_alat", Weight(energy_weight=1.0, forces_weight=0.1)
                      ).get_configs()[::10]
    model = builtin.StillingerWeber()
    model.set_opt_params(A=[[15.0, 1.0, 30.0]], gamma=[[2.5, 1.0, 4.0]])
    calc = Calculator(model)
    calc.create(configs)
    loss = Loss(calc)
    loss.minimize(method="L-BFGS-B", options={"maxiter": 200})
    boot = Bootstrap(loss, seed=1, nthreads=1).run(4, predictions=False)
    return model, boot


def test_ensemble_mean_std_and_bands(bootstrap):
    model, boot = bootstrap
    ens = validate_ensemble(model, boot, "diamond", "Si", PROPS, executor="process",
                            workers=2)
    assert len(ens.member_values) == 4 and not ens.failed
    c11 = ens.values_of("C11")
    assert np.all(np.isfinite(c11)) and c11.std() > 0
    s = ens.summary()
    assert s["C11"] == pytest.approx(c11.mean(), rel=1e-12)
    assert s["C11_std"] == pytest.approx(c11.std(ddof=1), rel=1e-12)
    # one member recomputed here gives the same number as its worker process
    member = builtin.StillingerWeber()
    member.set_opt_params(A=[[15.0, 1.0, 30.0]], gamma=[[2.5, 1.0, 4.0]])
    member.update_model_params(boot.samples[2])
    alone = validate(member, "diamond", "Si", "lattice elastic", references=False)
    assert alone.values["C11"] == pytest.approx(c11[2], rel=1e-9)
    bands = ens.bands()
    assert len(bands["eos"]["mean"]) == len(ens.central.details["eos"]["fit_volumes"])
    assert np.array(bands["phonons"]["mean"]).shape == \
        np.array(ens.central.details["phonons"]["frequencies"]).shape
    assert max(bands["phonons"]["std"][0]) >= 0
    threads = validate_ensemble(model, boot.samples[:2], "diamond", "Si", "lattice elastic",
                                executor="thread")
    np.testing.assert_allclose(threads.values_of("C11"), c11[:2], rtol=1e-9)


def test_mcmc_chain_as_ensemble(bootstrap):
    from workbench import datasets
    from workbench.analysis.mcmc import MCMC
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset
    from workbench.loss import Loss

    model, _ = bootstrap
    calc = Calculator(model)
    calc.create(Dataset(datasets.path("Si_4")).get_configs())
    chain = MCMC(Loss(calc), seed=3).run(nsteps=30, burn=10, store=None)
    assert len(chain.samples) > 3
    ens = validate_ensemble(model, chain, "diamond", "Si", "lattice elastic",
                            executor="serial", members=3)
    assert len(ens.member_values) == 3
    first = validate_ensemble(model, chain.samples[:1], "diamond", "Si", "lattice elastic",
                              executor="serial")
    assert ens.values_of("C11")[0] == pytest.approx(first.values_of("C11")[0], rel=1e-12)
    assert np.isfinite(ens.summary()["C11_std"])


@pytest.mark.dask
def test_ensemble_on_a_dask_cluster(bootstrap):
    from dask.distributed import Client, LocalCluster

    model, boot = bootstrap
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        ens = validate_ensemble(model, boot.samples[:2], "diamond", "Si", "lattice elastic",
                                client=client)
    serial = validate_ensemble(model, boot.samples[:2], "diamond", "Si", "lattice elastic",
                               executor="serial")
    np.testing.assert_allclose(ens.values_of("C44"), serial.values_of("C44"), rtol=1e-9)


def test_cli_json_html_and_ensemble_file(bootstrap, tmp_path, capsys):
    model, boot = bootstrap
    model_file = model.save(tmp_path / "sw.yaml")
    ens_file = save_ensemble(tmp_path / "ens.npz", boot, model.get_opt_param_names())
    names, samples = load_ensemble(ens_file)
    assert names == model.get_opt_param_names() and samples.shape == (4, 2)
    assert main(["validate", str(model_file), "--structure", "diamond", "--species", "Si",
                 "--properties", "lattice", "elastic", "phonons", "vacancy", "--json",
                 "--ensemble", str(ens_file), "--html", str(tmp_path / "r.html")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"lattice_constant", "lattice_constant_std", "cohesive_energy",
                        "cohesive_energy_std", "C11", "C11_std", "C12", "C12_std", "C44",
                        "C44_std", "phonon_min_frequency", "phonon_min_frequency_std",
                        "vacancy_formation_energy", "vacancy_formation_energy_std"}
    assert out["C11_std"] > 0
    page = (tmp_path / "r.html").read_text()
    assert "McSkimin" in page and "Phonon band structure" in page and "± std" in page

    assert main(["validate", str(model_file), "--properties", "lattice", "eos", "--json",
                 "--set", "eos_points=9"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"lattice_constant", "cohesive_energy", "bulk_modulus"}

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"names": ["A", "B"], "samples": [[1.0, 2.0]]}))
    assert main(["validate", str(model_file), "--ensemble", str(bad), "--json"]) == 2
    assert "do not match the model's optimized parameters" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="not an ensemble file"):
        load_ensemble(tmp_path / "r.html")


@pytest.mark.kim
def test_cli_with_an_installed_kim_model(capsys):
    assert main(["validate", "SW_StillingerWeber_1985_Si__MO_405512056662_005",
                 "--properties", "lattice", "elastic", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lattice_constant"] == pytest.approx(5.431, rel=5e-3)
    assert out["C44"] == pytest.approx(56.4, rel=5e-3)


def test_fit_report_properties_section_and_run_store(tmp_path, capsys):
    from workbench.runs import open_store

    cfg = tmp_path / "fit.yaml"
    cfg.write_text("dataset:\n  path: Si_4\n  weight: {energy_weight: 1.0, forces_weight: 0.1}\n"
                   "model:\n  name: StillingerWeber\n  species: [Si]\n"
                   "  params:\n    A: [[12.0, 1.0, 20.0]]\n    gamma: [[2.0]]\n"
                   "fit:\n  method: L-BFGS-B\n  options: {maxiter: 50}\n")
    out, store = tmp_path / "out", tmp_path / "runs"
    assert main(["fit", str(cfg), "--out", str(out), "--no-progress", "--no-kim",
                 "--store", str(store), "--properties"]) == 0
    printed = capsys.readouterr().out
    report = (out / "report.html").read_text()
    assert "Properties: SW on diamond Si" in report and "C44_unrelaxed" in report
    assert "Energy vs volume" in report and "DFT (shifted" in report
    run_id = printed.split("run: ")[1].split()[0]
    results = open_store(store).get_results(run_id, "validation")
    assert len(results) == 1
    values = results[0]["data"]["values"]
    model = load_model_file(out / "model.yaml")
    direct = validate(model, "diamond", "Si", "lattice elastic", references=False).values
    assert values["C11"] == pytest.approx(direct["C11"], rel=1e-9)


def load_model_file(path):
    from workbench.models import load_model

    return load_model(path)


@pytest.mark.slow
def test_validate_a_fit_notebook(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    from workbench.validation.report import property_rows  # noqa: F401 (import check)

    path = __import__("pathlib").Path(__file__).resolve().parent.parent / "notebooks"
    nb = nbformat.read(path / "08_validate_a_fit.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "fitted: {'A': 14.93" in text
    assert "C11 = " in text and "(experiment 165.77 GPa)" in text
    assert "DFT (training set) a0 = 5.4" in text


def test_cli_structure_from_a_file_and_bad_property(tmp_path, capsys):
    import ase.io
    from ase.build import bulk

    ase.io.write(tmp_path / "si.cif", bulk("Si", "diamond", a=5.5, cubic=True))
    assert main(["validate", "StillingerWeber", "--structure", str(tmp_path / "si.cif"),
                 "--properties", "lattice", "elastic", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # any ase.Atoms: cell and positions relaxed, the full 6x6 matrix computed
    assert out["lattice_constant"] == pytest.approx(5.431, rel=5e-3)
    assert out["C44"] == pytest.approx(56.4, rel=5e-3)
    assert main(["validate", "StillingerWeber", "--properties", "colour", "--json"]) == 2
    assert "unknown property ['colour']" in capsys.readouterr().err
