"""Model cards rendered from the Markdown templates in ``training/templates/``.

A template is a ``string.Template``: ``$name`` (or ``${name}``) placeholders filled by :func:`render`.
The templates are maintainer files beside this module (``make student`` ships ``util/`` only).
"""

from __future__ import annotations

from pathlib import Path
from string import Template

__all__ = ["TEMPLATES_DIR", "placeholders", "render"]

#: Where the card templates live.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def _template(name):
    path = TEMPLATES_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"no card template {path}")
    return Template(path.read_text(encoding="utf-8"))


def placeholders(name):
    """The placeholder names of template ``name`` (a file name in :data:`TEMPLATES_DIR`), in order of first use."""
    return _template(name).get_identifiers()


def render(name, values):
    """Template ``name`` with every placeholder replaced by ``str(values[placeholder])``.

    Parameters
    ----------
    name : str
        A file name in :data:`TEMPLATES_DIR`, e.g. ``"fundus_model_card.md"``.
    values : mapping
        A value for every placeholder of the template, and nothing else.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        A placeholder has no value.
    ValueError
        A value has no placeholder (a misspelt name), or the template holds a malformed ``$``.
    """
    template = _template(name)
    if not template.is_valid():
        raise ValueError(f"card template {name} holds a '$' that is not a placeholder (write '$$' for a dollar)")
    wanted = set(template.get_identifiers())
    missing = sorted(wanted - set(values))
    if missing:
        raise KeyError(f"card template {name} needs a value for {', '.join('$' + m for m in missing)}")
    unused = sorted(set(values) - wanted)
    if unused:
        raise ValueError(f"card template {name} has no placeholder for {', '.join(unused)}")
    return template.substitute(values)
