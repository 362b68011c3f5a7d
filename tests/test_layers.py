"""The tree's import direction, read from the source (nothing is imported).

The student library ``util`` is layered: ``config`` < ``data`` < ``models`` < ``explain`` < ``metrics`` <
``demo``; a module imports only modules of its own layer or of layers below it. ``util`` never imports
the maintainer's ``training`` or the instructor's ``grading``; ``training`` never imports ``grading``. No
module imports another module's private (underscore) name. Every public module of ``util`` says what it
exports (``__all__``).
"""

from __future__ import annotations

import ast

import pytest

from util.config.paths import REPO_ROOT

#: The layers of ``util`` from the bottom up; ``util.<layer>`` or ``util/<layer>.py``.
UTIL_LAYERS = ("config", "data", "models", "explain", "metrics", "demo")
#: Packages and what each may never import.
FORBIDDEN = {"util": ("training", "grading"), "training": ("grading",)}
PACKAGES = ("util", "training", "grading")


def module_name(path, root):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path, root):
    """``(line, imported module, [names])`` for every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base, [alias.name for alias in node.names]))
    return found


def util_layer(module):
    """The index in :data:`UTIL_LAYERS` of a ``util`` module, or None for ``util`` itself."""
    parts = module.split(".")
    if parts[0] != "util" or len(parts) == 1:
        return None
    return UTIL_LAYERS.index(parts[1]) if parts[1] in UTIL_LAYERS else len(UTIL_LAYERS)


def violations(root):
    """Every import in the packages under ``root`` that breaks the rules of this module's docstring."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            where = f"{path.relative_to(root)}"
            for line, target, names in imports_of(path, root):
                top = target.split(".")[0]
                if top in FORBIDDEN.get(package, ()):
                    found.append(f"{where}:{line}: {package} imports {target} (a {package} module never imports {top})")
                own, other = util_layer(module), util_layer(target)
                if own is not None and other is not None and other > own:
                    found.append(f"{where}:{line}: util.{UTIL_LAYERS[own]} imports {target}, a layer above it")
                if package == "util" and target == "util" and module != "util":
                    found.append(f"{where}:{line}: imports from the package util (import the defining module)")
                if top in PACKAGES and target != module:
                    for name in names:
                        if name.startswith("_") and not name.startswith("__"):
                            found.append(f"{where}:{line}: imports the private name {name} of {target}")
    return found


def test_every_import_follows_the_layers_and_no_private_name_crosses_a_module():
    assert violations(REPO_ROOT) == []


def test_the_util_layers_are_the_packages_on_disk():
    on_disk = {p.name for p in (REPO_ROOT / "util").iterdir() if (p / "__init__.py").is_file()}
    on_disk |= {p.stem for p in (REPO_ROOT / "util").glob("*.py") if p.stem != "__init__"}
    assert on_disk == set(UTIL_LAYERS)


def test_every_public_util_module_declares_all():
    missing = []
    for path in sorted((REPO_ROOT / "util").rglob("*.py")):
        if path.name == "__init__.py" and path.parent.name != "util":
            continue  # the layer packages only hold a docstring
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                   if isinstance(t, ast.Name)}
        if "__all__" not in targets:
            missing.append(str(path.relative_to(REPO_ROOT)))
    assert missing == []


def test_the_course_exports_come_from_the_student_library_only():
    import util

    assert util.__all__ and all(module.startswith("util.") for module in util._EXPORTS.values())
    for name in util.__all__:
        assert getattr(util, name) is not None


def write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("relative, text, message", [
    ("util/data/bad.py", "from util.models.densenet import build_densenet121\n", "a layer above it"),
    ("util/config/bad.py", "import util.explain.gradcam\n", "a layer above it"),
    ("util/models/bad.py", "from training.densenet import train\n", "util imports training.densenet"),
    ("util/data/bad.py", "from ..models import densenet\n", "util.data imports util.models"),
    ("training/bad.py", "from grading import autograde\n", "training imports grading"),
    ("grading/bad.py", "from util.data.raster import _secret\n", "private name _secret of util.data.raster"),
    ("util/metrics/bad.py", "from util import LABELS\n", "imports from the package util"),
])
def test_the_check_catches_each_kind_of_violation(tmp_path, relative, text, message):
    for package in PACKAGES:
        write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, relative, text)
    found = violations(tmp_path)
    assert len(found) == 1 and message in found[0], found
