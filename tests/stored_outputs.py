"""Compare a notebook's stored outputs with a fresh execution of it (what nbval does for the lectures,
for the assignments' source notebooks, whose fresh execution is nbgrader validate's: tests/assignment_checks.py).

Text outputs (streams, ``text/plain``, ``text/html``) must be equal: the source notebooks print no
timings or memory addresses, so nothing is sanitized. Consecutive stream outputs are joined first (as
nbval does): where the kernel cuts a cell's printing into messages depends on when it flushes. Figures are compared as images, robustly: the
same size (within 2 pixels) and at most :data:`BLOCKS_ALLOWED` of their 8x8 blocks differing by more
than :data:`BLOCK_LEVELS` grey levels on average, which lets anti-aliased text move and catches a
different map, curve or film.

One kind of cell is not compared: a cell that does something else when nbgrader runs it (its source
tests ``NBGRADER_EXECUTION``, e.g. C1W1's optional training loop). Its fresh output must then be the
"Skipped" line, so the exemption holds only where it applies.
"""

from __future__ import annotations

import base64
import io

import numpy as np

#: A block "differs" when its mean moved by more than this many grey levels (0-255) in some channel.
BLOCK_LEVELS = 8
#: The share of differing 8x8 blocks a figure may have (text rendering, not content).
BLOCKS_ALLOWED = 0.005
#: The cells that behave otherwise under nbgrader (not compared) and what they print there.
GRADED_RUN_MARKER = 'os.environ.get("NBGRADER_EXECUTION")'
GRADED_RUN_OUTPUT = "Skipped: "
_TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "application/json")


def _pixels(png_base64):
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(png_base64))) as image:
        return np.asarray(image.convert("RGB"), dtype=float)


def figure_difference(stored_png, fresh_png):
    """``None`` when two base64 PNGs show the same figure, else why not."""
    a, b = _pixels(stored_png), _pixels(fresh_png)
    if any(abs(x - y) > 2 for x, y in zip(a.shape, b.shape)):
        return f"figure size {a.shape[1]}x{a.shape[0]} stored, {b.shape[1]}x{b.shape[0]} now"
    h, w = (min(a.shape[0], b.shape[0]) // 8) * 8, (min(a.shape[1], b.shape[1]) // 8) * 8

    def blocks(x):
        return x[:h, :w].reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))

    moved = (np.abs(blocks(a) - blocks(b)) > BLOCK_LEVELS).any(axis=-1).mean()
    if moved > BLOCKS_ALLOWED:
        return f"figure differs in {100 * moved:.1f} % of its 8x8 blocks (allowed {100 * BLOCKS_ALLOWED:.1f} %)"
    return None


def _output_difference(stored, fresh):
    if stored.output_type != fresh.output_type:
        return f"a {stored.output_type} output stored, a {fresh.output_type} now"
    if stored.output_type == "stream":
        if stored.name != fresh.name or stored.text != fresh.text:
            return f"{stored.name} stored {stored.text[-300:]!r}, now {fresh.name} {fresh.text[-300:]!r}"
        return None
    if stored.output_type == "error":
        return f"an error stored: {stored.ename}"
    if sorted(stored.data) != sorted(fresh.data):
        return f"output kinds {sorted(stored.data)} stored, {sorted(fresh.data)} now"
    for kind, value in stored.data.items():
        if kind == "image/png":
            why = figure_difference(value, fresh.data[kind])
            if why:
                return why
        elif kind in _TEXT_TYPES or kind.startswith("text/"):
            if value != fresh.data[kind]:
                return f"{kind} stored {str(value)[-300:]!r}, now {str(fresh.data[kind])[-300:]!r}"
        else:
            raise ValueError(f"no comparison for {kind} outputs")
    return None


def coalesced(outputs):
    """``outputs`` with each run of stream outputs of the same name (stdout, stderr) joined into one."""
    import nbformat

    joined = []
    for out in outputs:
        if (out.output_type == "stream" and joined and joined[-1].output_type == "stream"
                and joined[-1].name == out.name):
            joined[-1] = nbformat.v4.new_output("stream", name=out.name, text=joined[-1].text + out.text)
        else:
            joined.append(out)
    return joined


def stored_output_differences(stored_nb, fresh_nb):
    """One line per code cell whose stored outputs differ from the fresh execution's (see the module)."""
    stored_sources, fresh_sources = [c.source for c in stored_nb.cells], [c.source for c in fresh_nb.cells]
    if stored_sources != fresh_sources:
        at = next((i for i, (a, b) in enumerate(zip(stored_sources, fresh_sources)) if a != b),
                  min(len(stored_sources), len(fresh_sources)))
        return [f"cell {at} of the executed notebook is not the stored notebook's ({len(fresh_sources)} cells "
                f"executed, {len(stored_sources)} stored): was the notebook edited while it ran?"]
    found = []
    for index, (stored, fresh) in enumerate(zip(stored_nb.cells, fresh_nb.cells)):
        if stored.cell_type != "code":
            continue
        name = f"cell {index} ({stored.metadata.get('nbgrader', {}).get('grade_id', 'no id')})"
        if GRADED_RUN_MARKER in stored.source:
            text = "".join(o.get("text", "") for o in fresh.outputs)
            if not text.startswith(GRADED_RUN_OUTPUT):
                found.append(f"{name} tests NBGRADER_EXECUTION but printed {text[:200]!r} under nbgrader")
            continue
        stored_outs, fresh_outs = coalesced(stored.outputs), coalesced(fresh.outputs)
        if len(stored_outs) != len(fresh_outs):
            found.append(f"{name}: {len(stored_outs)} outputs stored, {len(fresh_outs)} now")
            continue
        for stored_out, fresh_out in zip(stored_outs, fresh_outs):
            why = _output_difference(stored_out, fresh_out)
            if why:
                found.append(f"{name}: {why}")
                break
    return found
