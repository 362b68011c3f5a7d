"""Numbers stated in a notebook's prose must come from its outputs.

A markdown cell *claims a measurement* when it states a number with a decimal point or a percentage
(``0.7``, ``54.8 %``): integers are counts and sizes fixed by the course (14 labels, 320×320, 1024
channels, 100 shuffles), which the code states itself. Such a number must equal, at the precision it
is written with, a number printed in one of the notebook's outputs (``about 0.7`` matches a printed
``0.71``). Not claims, and not checked:

* timings announced before a slow cell (``about 40 s``, ``65 min``): they vary with the machine and
  ``benchmarks/bench_notebook_cells.py`` measures them;
* code (inline or fenced), LaTeX, link targets, headings, section numbers and bounds (``≥ 0.45``):
  parameters, versions and formulas, not results;
* numbers of the model card when the cell cites ``MODEL_CARD.md``: they must be in the card instead;
* :data:`CONSTANTS`, each with the reason it is not a measurement.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = [REPO / "source" / a / f"{a}_Assignment.ipynb" for a in ("C1W1", "C3W3")]
LECTURES = sorted((REPO / "notebooks").glob("*.ipynb"))
CARD = REPO / "data" / "models" / "MODEL_CARD.md"

#: Numbers that prose may state without an output, and why each is not a measurement.
CONSTANTS = {
    "0.5": "the decision threshold, the AUC of chance and the course's overlay opacity",
    "1.0": "a probability of one, the maximum of a normalised map",
    "0.0": "a probability of zero",
    "0.9": "an example probability in the ordinal decoding rules (lecture 03), an input, not a result",
    "0.2": "an example probability in the ordinal decoding rules (lecture 03)",
    "0.8": "an example probability in the ordinal decoding rules (lecture 03)",
    "0.1": "an example probability in the ordinal decoding rules (lecture 03)",
}

_NUMBER = re.compile(r"(?<![\w.])([-−]?\d+(?:\.\d+)?)(\s?%)?(?![\w.]*\d)")
_TIMING = re.compile(r"^\s*(s|ms|min|minutes?|seconds?|hours?|h)\b")
_STRIP = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.S),  # display maths
    re.compile(r"\$[^$]*\$"),  # inline maths
    re.compile(r"\[[^\]]*\]\(#[^)]*\)"),  # links to a section (the outline)
    re.compile(r"^#+ .*$", re.M),  # headings (section numbers)
    re.compile(r"(?:[Ss]ections?|§)\s*\d+(?:\.\d+)*"),  # references to a section
    re.compile(r"(?:≥|>=|≤|<=)\s*\d+(?:\.\d+)*"),  # bounds and versions (shap ≥ 0.45), not results
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # html tags (anchors)
]


def _numbers(text):
    """(value, decimals, is_percent) of every number in ``text``."""
    found = []
    for m in _NUMBER.finditer(text):
        raw, pct = m.group(1).replace("−", "-"), bool(m.group(2))
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        found.append((raw, float(raw), decimals, pct, m.end()))
    return found


def claims(markdown):
    """The numbers of a markdown cell that claim a measurement: ``[(text, value, decimals, percent)]``."""
    text = markdown
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    out = []
    for raw, value, decimals, pct, end in _numbers(text):
        if _TIMING.match(text[end:]):
            continue
        if decimals == 0 and not pct:
            continue  # counts and sizes
        out.append((raw + (" %" if pct else ""), value, decimals, pct))
    return out


def _output_text(nb):
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if "text" in o:
                parts.append(o["text"])
            for kind in ("text/plain", "text/html"):
                if kind in o.get("data", {}):
                    parts.append(o["data"][kind])
    return "\n".join(parts)


def _matches(value, decimals, pct, printed):
    for _, y, y_decimals, y_pct, _ in printed:
        candidates = [y]
        if pct and not y_pct:
            candidates.append(100 * y)  # a share printed as 0.548, stated as 54.8 %
        for c in candidates:
            if y_decimals >= decimals and round(c, decimals) == round(value, decimals):
                return True
            if round(abs(c), decimals) == round(abs(value), decimals) and y_decimals >= decimals:
                return True  # "about -0.06" against a printed -0.057; sign written in words
    return False


def unsupported(nb):
    """Every claimed number of ``nb``'s markdown that no output, constant or cited card backs."""
    printed = _numbers(_output_text(nb))
    card = _numbers(CARD.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for raw, value, decimals, pct in claims(cell.source):
            if raw in CONSTANTS:
                continue
            if _matches(value, decimals, pct, printed):
                continue
            if "MODEL_CARD.md" in cell.source and _matches(value, decimals, pct, card):
                continue
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
            line = next((l for l in cell.source.splitlines() if raw.split(" ")[0] in l), "")
            problems.append(f"{gid}: {raw} in {line.strip()!r}")
    return problems


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.parent.name)
def test_every_number_in_an_assignments_prose_comes_from_its_outputs(path):
    assert unsupported(nbformat.read(path, as_version=4)) == []


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:2])
def test_every_number_in_a_lectures_prose_comes_from_its_outputs(path):
    assert unsupported(nbformat.read(path, as_version=4)) == []


def test_a_planted_wrong_number_is_reported():
    nb = nbformat.read(ASSIGNMENTS[1], as_version=4)
    assert unsupported(nb) == []
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "about 0.7" in c.source)
    cell.source = cell.source.replace("about 0.7", "about 0.4321")
    assert len(unsupported(nb)) == 1 and "0.4321" in unsupported(nb)[0]
    cell.source = cell.source.replace("about 0.4321", "about 0.71")  # the printed value at its precision
    assert unsupported(nb) == []
    cell.source += "\n\nThe forest ranks 93.7 % of the pairs right."
    assert ["93.7 %" in p for p in unsupported(nb)] == [True]
    cell.source += " It takes 93.7 s."  # a timing, not a claim
    assert len(unsupported(nb)) == 1


def test_what_counts_as_a_claim():
    text = ("AUC 0.982 on 120 films (14 labels, 320×320) in about 40 s, 54.8 % of them; `min_delta=0.005`, "
            "$\\log 2 = 0.693$, [link](https://arxiv.org/abs/1711.05225), 65 min, -0.06.")
    assert [c[0] for c in claims(text)] == ["0.982", "54.8 %", "-0.06"]
