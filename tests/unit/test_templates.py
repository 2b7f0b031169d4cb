"""The pages and scripts served as package data: valid JavaScript, safely filled in."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ltiauthenticator.lti13 import _platform_storage as storage

PACKAGE = Path(__file__).resolve().parents[2] / "ltiauthenticator"
SCRIPTS = sorted(PACKAGE.glob("*/templates/*.js"))


def test_there_are_scripts_to_check():
    assert {p.name for p in SCRIPTS} >= {"platform_storage.js", "storage_frame.js"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_scripts_are_valid_javascript(script):
    node = shutil.which("node")
    assert node, "Node.js is needed (the project's proxy, configurable-http-proxy, runs on it)"
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_storage_page_cannot_be_broken_out_of():
    hostile = "</script><script>alert(1)</script><!--"
    page = storage.get_data_page(
        target="frame",
        origin="https://lms.example",
        origins=["https://lms.example"],
        keys=("k1", "k2"),
        ticket=hostile,
        action="/hub/lti13/oauth_callback",
    )
    assert page.count("<script") == 2 and "alert(1)</script>" not in page
    config = re.search(r"id='lti-storage-config'>(.*?)</script>", page, re.S).group(1)
    assert json.loads(config)["ticket"] == hostile
