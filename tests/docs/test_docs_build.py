"""The documentation builds without warnings, and every config option has help text."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Configurable

from ltiauthenticator.lti13 import error as error_module
from ltiauthenticator.lti13._jwks import JWKSCache
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.validator import LTI13LaunchValidator

from ..support.measuring import unmeasured_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cls", [LTI13Authenticator, LTI13LaunchValidator, JWKSCache])
def test_every_config_trait_has_help(cls: type[Configurable]) -> None:
    """The configuration reference is rendered from help texts: none may be empty."""
    traits = cls.class_traits(config=True)
    assert traits, f"{cls.__name__} has no config traits?"
    missing = sorted(name for name, trait in traits.items() if not (trait.help or "").strip())
    assert missing == [], f"{cls.__name__} config traits without help: {missing}"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("autodoc_traits")
    out = tmp_path / "html"
    # sphinx only imports the package, which this process measures already: the build
    # runs untraced, where coverage would only slow it down
    env = unmeasured_environment()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-n",
            "--keep-going",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(REPO / "docs" / "source"),
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    configuration = (out / "reference" / "configuration.html").read_text()
    for option in ("username_key", "time_leeway", "unknown_kid_refetch_interval", "platforms"):
        assert option in configuration, option
    # effective defaults, not the base class's: allow_all is true without allow config
    text = re.sub(r"<[^>]+>", "", configuration).replace("&quot;", '"')
    assert "c.LTI13Authenticator.allow_all = Bool(True)" in text
    assert 'Default: ["RS256"]' in text
    shutil.rmtree(tmp_path / "doctrees", ignore_errors=True)


def _messages_raised_in(path: Path) -> list[tuple[int, str]]:
    """(line, longest literal part) of the message of every LTI 1.3 error raised in ``path``."""
    error_names = {
        name for name, value in vars(error_module).items() if isinstance(value, type)
    } | {"_cookies_blocked_error"}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in error_names:
            continue
        literals = [
            n.value
            for n in ast.walk(node.args[0])
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        if literals:
            found.append((node.lineno, max(literals, key=len).strip()))
    return found


def test_troubleshooting_covers_every_error_message() -> None:
    """Each message a user can see is explained in topic/troubleshooting.md."""
    page = " ".join((REPO / "docs" / "source" / "topic" / "troubleshooting.md").read_text().split())
    missing = []
    for path in sorted((REPO / "ltiauthenticator" / "lti13").glob("*.py")):
        for line, literal in _messages_raised_in(path):
            text = " ".join(literal.split())
            if len(text) >= 12 and text not in page:
                missing.append(f"{path.name}:{line}: {text!r}")
    assert missing == [], "not in docs/source/topic/troubleshooting.md:\n" + "\n".join(missing)
