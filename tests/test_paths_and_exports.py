"""util.config.paths (the data directory switch) and the names util exports."""

import pytest

import util
from util.config import paths


def test_default_data_dir_is_repo_data(monkeypatch):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    assert paths.data_dir() == paths.REPO_ROOT / "data"
    assert not paths.using_real_data()


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    assert paths.data_dir() == tmp_path
    assert paths.using_real_data()


def test_data_dir_missing_folder_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="MEDXAI_DATA_DIR=.*absent.*unset it"):
        paths.data_dir()


def test_labels_are_the_course_order():
    assert util.LABELS == [
        "Cardiomegaly", "Emphysema", "Effusion", "Hernia", "Infiltration", "Mass", "Nodule",
        "Atelectasis", "Pneumothorax", "Pleural_Thickening", "Pneumonia", "Fibrosis", "Edema",
        "Consolidation",
    ]


@pytest.mark.parametrize("name", util.__all__)
def test_every_exported_name_resolves(name):
    namespace = {}
    exec(f"from util import {name}", namespace)
    assert namespace[name] is getattr(util, name)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        util.nope  # noqa: B018
