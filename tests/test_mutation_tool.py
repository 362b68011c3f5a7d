"""tools/mutation.py (`make mutation`) still applies after a refactor: every planted bug names a file that
exists, text found there exactly once, and test files that exist (the tool itself runs outside the suite)."""

import importlib.util
import sys

import pytest

from util.config.paths import REPO_ROOT

spec = importlib.util.spec_from_file_location("mutation", REPO_ROOT / "tools" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutation  # its dataclass looks its module up there
spec.loader.exec_module(mutation)


@pytest.mark.parametrize("mutant", mutation.MUTANTS, ids=lambda m: m.name)
def test_every_mutant_applies_to_the_current_tree(mutant):
    path = REPO_ROOT / mutant.path
    assert path.is_file(), f"{mutant.path} does not exist"
    assert path.read_text().count(mutant.old) == 1, f"{mutant.old!r} is not in {mutant.path} exactly once"
    assert mutant.new != mutant.old
    for test in mutant.tests:
        assert (REPO_ROOT / test).is_file(), test
