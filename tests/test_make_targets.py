"""Every target of `make help` resolves to commands that exist: each `python -m X ...` names a module
whose command line accepts exactly the arguments the Makefile gives it (parsed by the module's own
parser, nothing run), each script and shell file is there. A renamed module, flag or script fails here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import shlex
import subprocess
import sys

import pytest

from util.config.paths import REPO_ROOT


def make(*args):
    # -o .venv/.installed: never plan a re-install (the stamp is older than an edited pyproject.toml)
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def help_targets():
    proc = make("help")
    assert proc.returncode == 0, proc.stderr
    return sorted({m.group(1) for m in re.finditer(r"^make ([\w-]+)", proc.stdout, re.M)})


def phony_targets():
    text = (REPO_ROOT / "Makefile").read_text()
    return {name for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for name in line.split()}


#: What `make help` lists, and every other phony target but `help` (it echoes) and `setup` (which, with the
#: stamp taken as made, plans nothing): train-fundus, for one, is missing from the help.
TARGETS = sorted((set(help_targets()) | phony_targets()) - {"setup", "help"})


def planned_commands(target):
    """The commands `make -n <target>` would run, continuation lines joined, split like the shell does."""
    proc = make("-n", target)
    assert proc.returncode == 0, f"make -n {target}: {proc.stderr}"
    text = re.sub(r"\\\n\s*", " ", proc.stdout)
    commands = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = []
        for token in [*lexer, ";"]:
            if token in (";", "&&", "||", "|", "&", "(", ")"):
                while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value command
                    words = words[1:]
                if words:
                    commands.append(words)
                words = []
            elif token not in ("{", "}"):
                words.append(token)
    return commands


class Parsed(Exception):
    """Raised in place of running a command, once its parser accepted the arguments."""


def parse_only(monkeypatch, main, argv):
    """Run ``main(argv)`` only as far as its ``parse_args``: the Namespace, or SystemExit from argparse."""
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    with pytest.raises(Parsed) as parsed:
        main(argv)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", original)
    return parsed.value.args[0]


def _main_of(words):
    """``(main, argv)`` of a planned ``python -m X args`` or ``python script.py args``; None for others."""
    if not words[0].endswith("/python"):
        return None
    if words[1] == "-m":
        module, argv = words[2], words[3:]
        assert importlib.util.find_spec(module) is not None, f"no module {module}"
        if module == "pytest":
            return None
        target = importlib.import_module(module if module != "grading" else "grading.__main__")
    else:
        path = REPO_ROOT / words[1]
        assert path.is_file(), f"no script {words[1]}"
        spec = importlib.util.spec_from_file_location(f"_script_{path.stem}", path)
        target = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = target  # dataclasses look their module up there
        spec.loader.exec_module(target)
        argv = words[2:]
    assert hasattr(target, "main"), f"{words[1:3]} has no main()"
    return target.main, argv


def test_make_help_lists_the_targets_users_run():
    for target in ("demo", "test", "test-fast", "data", "train", "evaluate", "release", "autograde",
                   "references", "student", "lab", "lab-student", "notebooks", "bench", "mutation"):
        assert target in TARGETS


@pytest.mark.parametrize("target", TARGETS)
def test_every_command_of_a_make_target_exists_and_accepts_its_arguments(target, monkeypatch):
    commands = planned_commands(target)
    assert commands, f"make -n {target} plans nothing"
    for words in commands:
        if words[0] in ("sh", "bash"):
            assert (REPO_ROOT / words[1]).is_file(), f"make {target}: no {words[1]}"
            continue
        if words[0] == "for":  # make bench: for script in benchmarks/bench_*.py
            assert list(REPO_ROOT.glob(words[3])), f"make {target}: {words[3]} matches nothing"
            continue
        if words[0] == "pytest" or words[-1] == "tests":
            assert (REPO_ROOT / "tests").is_dir()
        found = _main_of(words) if words[0].endswith("/python") and "$script" not in words else None
        if found is None:
            continue
        main, argv = found
        try:
            parse_only(monkeypatch, main, argv)
        except SystemExit as err:
            pytest.fail(f"make {target}: `{shlex.join(words[1:])}` is refused by its parser (exit {err.code})")


def test_a_renamed_flag_is_refused_by_this_check(monkeypatch, capsys):
    """The check above fails for a flag the module does not know (what a renamed option looks like)."""
    from training import fundus as train_fundus

    with pytest.raises(SystemExit):
        parse_only(monkeypatch, train_fundus.main, ["--size", "128", "--iterations", "300"])
    assert "unrecognized arguments: --iterations 300" in capsys.readouterr().err
    assert parse_only(monkeypatch, train_fundus.main, ["--steps", "300"]).steps == 300


def test_make_autograde_passes_its_variables_to_the_grader():
    words = planned_commands("autograde")
    assert words == [[".venv/bin/python", "-m", "grading", "autograde", "C3W3", "--jobs", words[0][6]]]
    proc = make("-n", "autograde", "ASSIGNMENT=C1W1", "JOBS=3", "SCHEDULER=tcp://h:8786",
                "DB_URL=postgresql://g@h/m", "GRADE_FLAGS=--force --student ada")
    planned = shlex.split(re.sub(r"\\\n\s*", " ", proc.stdout))
    assert planned == [".venv/bin/python", "-m", "grading", "autograde", "C1W1", "--jobs", "3", "--scheduler",
                       "tcp://h:8786", "--db-url", "postgresql://g@h/m", "--force", "--student", "ada"]
    from grading.__main__ import _parser

    args = _parser().parse_args(planned[3:])
    assert (args.what, args.assignments, args.jobs, args.scheduler, args.db_url, args.force, args.student) == (
        "autograde", ["C1W1"], 3, "tcp://h:8786", "postgresql://g@h/m", True, ["ada"])
