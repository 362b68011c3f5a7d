"""util.config.paths: where the data and the model weights are, and the MEDXAI_DATA_DIR switch."""

import pytest

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
