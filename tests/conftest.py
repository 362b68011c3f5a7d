"""Shared test settings.

The tests check the repository's own generated data, so an instructor's
``MEDXAI_DATA_DIR`` is ignored here; tests of the real-data mode set it
themselves with ``monkeypatch``.
"""

import os

os.environ.pop("MEDXAI_DATA_DIR", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def chestxray_data():
    """Generate the phantoms once, before any test, rather than inside the first notebook kernel
    that happens to need them (on a fresh clone that is an nbgrader run of an assignment)."""
    from util.data.chestxray import ensure_chestxray_data

    return ensure_chestxray_data()


#: Test modules that run nbgrader, sandboxed grading, PostgreSQL or whole notebooks. With the
#: notebooks themselves they are marked ``slow``, which ``make test-fast`` leaves out; CI runs them all.
HEAVY_MODULES = frozenset({
    "test_c1w1_release.py", "test_c3w3_release.py", "test_demo.py", "test_grading_c1w1.py",
    "test_grading_c3w3.py", "test_grading_cli.py", "test_grading_scale.py", "test_postgres_gradebook.py",
    "test_sandbox.py", "test_student.py",
})


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in HEAVY_MODULES or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
