"""Package data: the HTML pages and JavaScript programs the handlers serve.

They live as files (``lti13/templates/``, ``platform_emulator/templates/``) so that a reader
and a linter see them as what they are; they are read once, at import.
"""

from __future__ import annotations

from importlib import resources


def read(name: str, package: str = "ltiauthenticator.lti13") -> str:
    """The text of ``templates/<name>`` inside ``package``."""
    return resources.files(package).joinpath("templates", name).read_text(encoding="utf-8")
