"""How long a student waits for each notebook cell: every cell's wall time, against the 15 s target.

Run: ``.venv/bin/python benchmarks/bench_notebook_cells.py [NOTEBOOK ...]`` (default: the two
assignments' source notebooks and the lecture notebooks). Each notebook is executed once in a
fresh kernel, as a student runs it (no ``NBGRADER_EXECUTION``), from a temporary copy, so nothing
in the repository changes. Prints the slowest cells of each notebook and every cell over the
target with the first line of its source; cells whose markdown announces the wait ("take(s) about")
are listed as announced.
"""

import argparse
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from util.config.paths import REPO_ROOT

TARGET_SECONDS = 15.0
DEFAULT = [REPO_ROOT / "source" / "C1W1" / "C1W1_Assignment.ipynb", REPO_ROOT / "source" / "C3W3" / "C3W3_Assignment.ipynb",
           *sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))]


def cell_seconds(path, timeout=900):
    """Execute a copy of the notebook; return ``[(index, seconds, first source line, announced)]`` per code cell."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / path.parent.name
        shutil.copytree(path.parent, folder)
        nb = nbformat.read(folder / path.name, as_version=4)
        os.environ.pop("NBGRADER_EXECUTION", None)  # the kernel inherits this environment
        os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONHASHSEED": "0"})
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
    rows, previous = [], ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            previous = cell.source
            continue
        if cell.cell_type != "code":
            continue
        timing = cell.metadata.get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if not (start and end):
            continue
        seconds = (datetime.fromisoformat(end.replace("Z", "+00:00")) -
                   datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        announced = "take about" in previous or "takes about" in previous or "take several" in previous
        rows.append((index, seconds, first[:70], announced))
        previous = ""
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--top", type=int, default=5, help="slowest cells shown per notebook")
    args = parser.parse_args(argv)
    over = []
    for path in args.notebooks:
        rows = cell_seconds(path.resolve())
        total = sum(s for _, s, _, _ in rows)
        print(f"== {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}: "
              f"{len(rows)} code cells, {total:.1f} s in cells")
        for index, seconds, first, announced in sorted(rows, key=lambda r: -r[1])[: args.top]:
            flag = " (announced)" if announced else (" OVER" if seconds > TARGET_SECONDS else "")
            print(f"   cell {index:3d} {seconds:7.2f} s{flag}  {first}")
        over += [(path.name, i, s, f) for i, s, f, a in rows if s > TARGET_SECONDS and not a]
    print()
    print(f"cells over {TARGET_SECONDS:g} s without an announcement: {len(over)}")
    for name, index, seconds, first in over:
        print(f"   {name} cell {index}: {seconds:.1f} s  {first}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
