"""util.config.quiet: TensorFlow's log settings are set once, when util is imported, and never overridden;
importing the library does not import TensorFlow."""

import json
import os
import subprocess
import sys

import pytest

from util.config.paths import REPO_ROOT
from util.config.quiet import TF_ENVIRONMENT

PROBE = """
import json, os, sys
import {module}
print(json.dumps({{"env": {{k: os.environ.get(k) for k in {names!r}}}, "tensorflow": "tensorflow" in sys.modules}}))
"""


def probe(module, **env):
    clean = {k: v for k, v in os.environ.items() if k not in TF_ENVIRONMENT}
    proc = subprocess.run([sys.executable, "-c", PROBE.format(module=module, names=sorted(TF_ENVIRONMENT))],
                          cwd=REPO_ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("module", ["util", "util.models.densenet", "util.explain.gradcam", "util.data.chestxray"])
def test_importing_any_part_of_util_sets_the_defaults_without_importing_tensorflow(module):
    got = probe(module)
    assert got["env"] == TF_ENVIRONMENT == {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    assert got["tensorflow"] is False


def test_a_setting_the_user_made_is_kept():
    got = probe("util", TF_CPP_MIN_LOG_LEVEL="1")
    assert got["env"] == {"TF_CPP_MIN_LOG_LEVEL": "1", "TF_ENABLE_ONEDNN_OPTS": "0"}
