"""training.notebooks.execute_notebook and `python -m training.notebooks`: what `make notebooks` and
`make references` run to refresh stored outputs. A failing notebook must leave its file as it was."""

import subprocess
import sys

import nbformat
import pytest

from training.notebooks import execute_notebook


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path.read_bytes()


def test_a_good_notebook_gets_its_outputs_and_no_timing_metadata(tmp_path):
    path = tmp_path / "good.ipynb"
    _notebook(path, "x = 6 * 7\nprint(x)", "x + 1")
    seconds = execute_notebook(path)
    assert seconds > 0
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "42\n"
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "43"
    assert all("execution" not in cell.metadata for cell in nb.cells)


@pytest.mark.parametrize("source, message", [
    ("import sys\nprint('careful', file=sys.stderr)", "cell 1 wrote to stderr; nothing was written"),
    ("raise ValueError('broken on purpose')", "a cell failed; nothing was written"),
])
def test_a_failing_notebook_is_refused_and_left_unchanged(tmp_path, source, message):
    path = tmp_path / "bad.ipynb"
    before = _notebook(path, "print('fine')", source)
    with pytest.raises(RuntimeError, match=message):
        execute_notebook(path)
    assert path.read_bytes() == before


def test_a_missing_notebook_says_which(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebook at .*absent.ipynb"):
        execute_notebook(tmp_path / "absent.ipynb")


def test_the_command_executes_the_notebooks_it_is_given(tmp_path):
    path = tmp_path / "good.ipynb"
    _notebook(path, "print('from the command')")
    proc = subprocess.run([sys.executable, "-m", "training.notebooks", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "executed" in proc.stdout and "total" in proc.stdout
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "from the command\n"


def test_the_command_exits_1_when_there_is_no_notebook(monkeypatch, capsys):
    import training.notebooks as runner

    monkeypatch.setattr(runner, "lecture_notebooks", lambda: [])
    assert runner.main([]) == 1
    assert "no notebooks in" in capsys.readouterr().err
