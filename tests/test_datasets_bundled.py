from pathlib import Path

import pytest

from workbench import datasets


@pytest.mark.parametrize("name,count", [("Si", 1000), ("Si_4", 4), ("SiC", 10)])
def test_bundled_sets_unpack_with_all_files(name, count):
    root = datasets.path(name)
    files = sorted(Path(root).rglob("*.xyz"))
    assert len(files) == count
    assert not list(Path(root).rglob(".DS_Store"))
    # a second call returns the same directory without unpacking again
    assert datasets.path(name) == root


def test_unknown_set_names_the_choices():
    with pytest.raises(KeyError, match="Si_4"):
        datasets.path("Cu")
