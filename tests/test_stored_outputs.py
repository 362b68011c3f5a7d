"""tests/stored_outputs.py, the check that the source notebooks' stored outputs are current, can fail:
on the stored notebooks themselves, with one number, one figure or the graded-run exemption planted wrong."""

import base64
import copy
import io

import nbformat
import numpy as np
import pytest
from PIL import Image

from grading import c1w1, c3w3
from stored_outputs import figure_difference, stored_output_differences


def _png(pixels):
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _figure(seed=0, spot=(40, 60)):
    """A 160x240 'heat map': a smooth background and a bright spot."""
    y, x = np.mgrid[:160, :240]
    image = 80 + 60 * np.sin(x / 30 + seed) + 40 * np.exp(-((y - spot[0]) ** 2 + (x - spot[1]) ** 2) / 300)
    return np.repeat(image[..., None], 3, axis=-1)


@pytest.fixture(scope="module")
def stored():
    return {A.name: nbformat.read(A.source_notebook, as_version=4) for A in (c1w1.ASSIGNMENT, c3w3.ASSIGNMENT)}


def as_validated(nb):
    """A copy of ``nb`` as nbgrader validate leaves it when nothing changed: the optional cell skipped."""
    fresh = copy.deepcopy(nb)
    for cell in fresh.cells:
        if cell.cell_type == "code" and "NBGRADER_EXECUTION" in cell.source:
            cell.outputs = [nbformat.v4.new_output(
                "stream", name="stdout", text="Skipped: the notebook is being graded (NBGRADER_EXECUTION is set).\n")]
    return fresh


def _outputs(nb, kind):
    return [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs if kind(o)]


def test_a_stored_notebook_matches_itself_and_every_output_kind_is_compared(stored):
    for nb in stored.values():
        assert stored_output_differences(nb, as_validated(nb)) == []


def test_a_changed_number_in_a_printed_output_is_found(stored):
    nb = stored["C1W1"]
    fresh = as_validated(nb)
    index, out = next((i, o) for i, o in _outputs(fresh, lambda o: o.output_type == "stream") if "AUC" in o.text)
    digit = next(ch for ch in out.text if ch.isdigit())
    out.text = out.text.replace(digit, str((int(digit) + 1) % 10), 1)
    found = stored_output_differences(nb, fresh)
    assert len(found) == 1 and found[0].startswith(f"cell {index} "), found


def test_another_figure_of_the_same_size_is_found(stored):
    nb = stored["C3W3"]
    figures = _outputs(nb, lambda o: "image/png" in o.get("data", {}))
    sizes = {}
    for i, o in figures:
        sizes.setdefault(Image.open(io.BytesIO(base64.b64decode(o.data["image/png"]))).size, []).append((i, o))
    (i, a), (_, b) = next(v for v in sizes.values() if len(v) >= 2 and v[0][1].data != v[1][1].data)[:2]
    fresh = as_validated(nb)
    target = next(o for o in fresh.cells[i].outputs if o.get("data", {}).get("image/png") == a.data["image/png"])
    target.data["image/png"] = b.data["image/png"]
    found = stored_output_differences(nb, fresh)
    assert len(found) == 1 and found[0].startswith(f"cell {i} ") and "8x8 blocks" in found[0], found


def test_a_printout_cut_into_other_messages_is_the_same_printout(stored):
    """Where a cell's prints are cut into stream messages depends on when the kernel flushes."""
    nb = stored["C3W3"]
    fresh = as_validated(nb)
    index, out = _outputs(fresh, lambda o: o.output_type == "stream" and o.text.count("\n") >= 2)[0]
    cell = fresh.cells[index]
    at = cell.outputs.index(out)
    first, rest = out.text.split("\n", 1)
    cell.outputs[at:at + 1] = [nbformat.v4.new_output("stream", name=out.name, text=first + "\n"),
                               nbformat.v4.new_output("stream", name=out.name, text=rest)]
    assert stored_output_differences(nb, fresh) == []
    cell.outputs[at + 1].name = "stderr"  # the same text, but part of it on stderr now
    assert len(stored_output_differences(nb, fresh)) == 1


def test_figures_allow_rendering_noise_but_not_a_moved_spot():
    a = _figure()
    noisy = a + np.random.default_rng(0).integers(-4, 5, a.shape)
    noisy[100:104, 200:210] = 255 - noisy[100:104, 200:210]  # a glyph rendered differently
    assert figure_difference(_png(a), _png(noisy)) is None
    assert figure_difference(_png(a), _png(a[:-1])) is None  # one pixel row less (a tight bounding box)
    assert "8x8 blocks" in figure_difference(_png(a), _png(_figure(spot=(60, 90))))
    assert "figure size" in figure_difference(_png(a), _png(a[:, :-20]))


def test_a_notebook_edited_since_its_execution_is_named(stored):
    nb = stored["C1W1"]
    fresh = as_validated(nb)
    fresh.cells[3].source += "\n# edited"
    assert stored_output_differences(nb, fresh) == [
        f"cell 3 of the executed notebook is not the stored notebook's ({len(nb.cells)} cells executed, "
        f"{len(nb.cells)} stored): was the notebook edited while it ran?"]


def test_the_graded_run_exemption_holds_only_for_the_cell_that_nbgrader_skips(stored):
    nb = stored["C1W1"]
    skipped = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "NBGRADER_EXECUTION" in c.source]
    assert len(skipped) == 1  # C1W1's optional training loop
    fresh = as_validated(nb)
    assert stored_output_differences(nb, fresh) == []
    fresh.cells[skipped[0]].outputs[0].text = "step 1: weighted loss 0.556\n"  # it trained under nbgrader
    found = stored_output_differences(nb, fresh)
    assert len(found) == 1 and "tests NBGRADER_EXECUTION" in found[0], found
