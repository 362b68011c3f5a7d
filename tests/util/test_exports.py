"""util: the names the notebooks import with ``from util import *``, loaded lazily."""

import pytest

import util


@pytest.mark.parametrize("name", util.__all__)
def test_every_exported_name_resolves(name):
    namespace = {}
    exec(f"from util import {name}", namespace)
    assert namespace[name] is getattr(util, name)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        util.nope  # noqa: B018
