"""The lecture notebooks' stored outputs and nbval's sanitize rules (nbval itself executes them)."""

import configparser
import json
import re
import sys

from util.config.paths import REPO_ROOT
from training.notebooks import lecture_notebooks

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


# --------------------------------------------------------------------------- what the lectures say (issue 13)

_MEASURED = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?%|(?<![\w.])\d+\.\d+(?![\w.])")


def _cells(name):
    path = REPO_ROOT / "notebooks" / name
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _outputs(cells):
    texts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            texts.append("".join(out.get("text", "")))
            texts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def _markdown(cells):
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_every_decimal_or_percentage_in_a_lectures_prose_is_in_its_outputs():
    """A measured number in a markdown cell must be printed by the notebook itself (code and math excluded)."""
    missing = []
    for path in lecture_notebooks():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        printed = _outputs(cells).replace(" ", "")
        for cell in cells:
            if cell["cell_type"] != "markdown":
                continue
            text = re.sub(r"`[^`]*`|\$[^$]*\$|\([^)]*\.ipynb\)|\(#[^)]*\)", " ", "".join(cell["source"]))
            missing += [(path.name, m.group(0)) for m in _MEASURED.finditer(text) if m.group(0).replace(" ", "") not in printed]
    assert not missing, f"numbers stated in prose that no output of the notebook prints: {missing}"


def test_lecture_01_old_indices_and_layer_tour():
    cells = _cells("01_gradcam_part1_model_internals.ipynb")
    out = _outputs(cells)
    assert re.search(r"model\.layers\[424\] -> conv5_block16_concat\s+still the right layer", out)
    assert re.search(r"model\.layers\[-4\] -> bn\s+WRONG layer", out)
    assert "dir(layer) lists" in out and "get_config" in out
    assert "global average pooling right after it (what CAM needs): False" in out
    assert "any CNN" in _markdown(cells)


def test_lecture_02_saturation_and_strict_localisation_are_shown():
    cells = _cells("02_gradcam_part2_gradients.ipynb")
    out = _outputs(cells)
    # the saturated probability's gradient vanishes and its map is blank; the logit's is not
    assert "probability exactly 1.0 in float32: True" in out
    assert re.search(r"score = probability gradient exactly 0 everywhere: True\s+map blank: True", out)
    assert re.search(r"score = logit\s+gradient exactly 0 everywhere: False\s+map blank: False", out)
    # the pointing game strictly and leniently, next to the location prior
    assert re.search(r"Grad-CAM: +\d+ of \d+ peaks on the lesion within 15 px, \d+ of \d+ inside the outline", out)
    assert re.search(r"location prior: \d+ of \d+ within 15 px, \d+ of \d+ inside the outline", out)
    # counts that depend on float signs are printed with their margin
    assert "within 0.01 % of the largest weight of zero" in out
    assert "gradient values exactly 0: 54.8%" not in out


def test_lecture_03_decoding_rules_and_restored_sections():
    cells = _cells("03_case_study_retinopathy_ordinal_gradcam.ipynb")
    out, prose = _outputs(cells), _markdown(cells)
    assert "the course's rule" not in prose.lower()
    assert "inconsistent [0.9, 0.2, 0.8, 0.1] -> leading 1, count 2, sum 2, highest 3" in out
    assert re.search(r"'highest' and 'leading' part on [1-9]\d* eyes", out), "no eye where the rules disagree is shown"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    for call in ("draw_circle(", "subtract_local_average(", "decode_outputs(probs_pdr, method=m)"):
        assert call in code
    assert "Preprocessing, augmentation and ensembles" in prose and "Ben Graham" in prose
