"""The lecture notebooks' stored outputs and nbval's sanitize rules (nbval itself executes them)."""

import configparser
import json
import re
import sys

from util.notebooks import lecture_notebooks
from util.paths import REPO_ROOT

SANITIZE = REPO_ROOT / "notebooks" / "nbval_sanitize.cfg"


def _stored_text():
    """Every stored text output of the lecture notebooks (streams, plain-text results, errors)."""
    texts = []
    for path in lecture_notebooks():
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for out in cell.get("outputs", []):
                texts.append("".join(out.get("text", "")))
                texts.append("".join(out.get("data", {}).get("text/plain", "")))
                texts.append("\n".join(out.get("traceback", [])))
    return "\n".join(texts)


def test_every_sanitize_rule_hides_something_a_stored_output_shows():
    rules = configparser.ConfigParser()
    rules.read(SANITIZE, encoding="utf-8")
    stored = _stored_text()
    dead = [name for name in rules.sections() if not re.search(rules[name]["regex"], stored)]
    assert not dead, f"{SANITIZE.name}: rules that match no stored output (remove them): {dead}"


def test_a_dead_rule_is_reported(tmp_path, monkeypatch):
    cfg = tmp_path / "rules.cfg"
    cfg.write_text("[addresses]\nregex: 0x[0-9a-fA-F]{6,16}\nreplace: 0xADDRESS\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SANITIZE", cfg)
    try:
        test_every_sanitize_rule_hides_something_a_stored_output_shows()
    except AssertionError as err:
        assert "addresses" in str(err)
    else:
        raise AssertionError("a rule matching nothing was not reported")
