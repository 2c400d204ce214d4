"""DatasetBrowser driven from Python on the 400 varying-lattice configurations of the Si set."""

import numpy as np
import pytest

from workbench.data import Dataset, Weight
from workbench.ui.dataset_browser import DatasetBrowser


@pytest.fixture(scope="module")
def dataset(si_path):
    return Dataset(si_path / "varying_alat", Weight(energy_weight=1.0, forces_weight=0.1))


@pytest.fixture
def browser(dataset):
    return DatasetBrowser(dataset)


def test_table_columns_match_the_data(browser, dataset):
    configs = dataset.get_configs()
    assert len(browser.table) == len(configs) == 400
    t = browser.table
    k = 17
    c = configs[k]
    n = c.get_num_atoms()
    assert t.atoms[k] == n > 0
    assert t.energy_per_atom[k] == pytest.approx(c.energy / n)
    assert t.max_force[k] == pytest.approx(np.linalg.norm(c.forces, axis=1).max())
    assert t.species[k] == "Si"
    assert t.identifier[k].endswith(c.path.name) and not t.identifier[k].startswith("/")
    assert len(browser.table_w.options) == 400
    assert "400 fitted" in browser.count_w.value.replace("<b>", "").replace("</b>", "")


def test_filter_and_sort(browser):
    browser.filter_w.value = "alat5.4"
    rows = browser.visible_rows()
    assert rows and all("alat5.4" in browser.table.identifier[i] for i in rows)
    assert len(browser.table_w.options) == len(rows)
    browser.filter_w.value = "*perturb1.xyz"
    assert all(browser.table.identifier[i].endswith("perturb1.xyz") for i in browser.visible_rows())
    browser.filter_w.value = ""
    browser.sort_w.value = "energy/atom"
    e = browser.table.energy_per_atom.to_numpy()
    order = browser.visible_rows()
    assert np.all(np.diff(e[order]) >= 0)
    browser.desc_w.value = True
    order = browser.visible_rows()
    assert np.all(np.diff(e[order]) <= 0)
    assert [v for _, v in browser.table_w.options] == order


def test_selection_viewer_and_frame_slider(browser, dataset):
    configs = dataset.get_configs()
    browser.select([5, 9, 200])
    assert browser.frame_w.max == 2 and browser.frame_w.value == 0
    assert browser.current == 5
    assert browser.table.identifier[5] in browser.info_w.value
    view = browser.view
    assert view is not None and browser.structure.box.children == (view,)
    assert len(view._ngl_component_ids) == 1  # the structure only
    browser.structure.arrows_w.value = "reference forces"
    assert len(view._ngl_component_ids) == 2  # structure + force arrows
    # predicted forces need an analysis of the current model: said, not drawn
    browser.structure.arrows_w.value = "predicted forces"
    assert len(view._ngl_component_ids) == 1
    assert "predicted forces appear once the current model was analyzed" in \
        browser.structure.note_w.value
    browser.structure.arrows_w.value = "reference forces"
    browser.frame_w.value = 2
    assert browser.current == 200
    assert browser.table.identifier[200] in browser.info_w.value
    assert len(view._ngl_component_ids) == 2  # the previous frame was removed
    assert f"{configs[200].get_num_atoms()} atoms" in browser.info_w.value


def test_include_exclude_and_split(browser, dataset):
    configs = dataset.get_configs()
    changes = []
    browser.on_change = lambda: changes.append(1)
    browser.select([0, 1, 2])
    browser.exclude_w.click()
    fit = browser.fit_configs()
    assert len(fit) == 397 and configs[0] not in fit and configs[3] in fit
    assert browser.table.included[:3].tolist() == [False] * 3
    assert browser.row_text(0).endswith("no")
    assert browser.excluded_identifiers() == [str(c.identifier) for c in configs[:3]]
    browser.select([1])
    browser.include_w.click()
    assert len(browser.fit_configs()) == 398
    browser.test_fraction_w.value = 0.25
    browser.seed_w.value = 3
    browser.split_w.click()
    assert (browser.table.split == "test").sum() == 100
    assert len(browser.fit_configs()) + len(browser.test_configs()) == 398
    assert browser.split_params == {"fraction": 0.25, "seed": 3}
    assert len(changes) == 3
    # the histogram of fitted energies counts exactly the fitted configurations
    fitted = [t for t in browser.hist_fig.data if t.name == "fitted"][0]
    assert sum(fitted.y) == len(browser.fit_configs())
    assert sum([t for t in browser.hist_fig.data if t.name == "all"][0].y) == 400
    forces = [t for t in browser.hist_fig.data if t.name == "forces"][0]
    assert sum(forces.y) == sum(3 * c.get_num_atoms() for c in browser.fit_configs())


def test_select_out_of_range_is_an_error(browser):
    from workbench.errors import DatasetError

    with pytest.raises(DatasetError, match="no configuration 400"):
        browser.select([400])


def test_identifiers_sort_by_their_numbers():
    from workbench.ui.dataset_browser import natural_key

    names = ["step10000", "step100", "step1000", "step2", "a/step10/x", "a/step9/x"]
    assert sorted(names, key=natural_key) == ["a/step9/x", "a/step10/x", "step2", "step100",
                                             "step1000", "step10000"]
