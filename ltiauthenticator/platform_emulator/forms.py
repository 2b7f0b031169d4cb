"""Reading the auto-submitting form a platform answers with (for tests and the benchmark).

A browser runs the page's script and posts the form; clients without JavaScript read
the form's action and hidden fields with :func:`read_auto_submit_form` and post them.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urljoin


class _FirstForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: Optional[str] = None
        self.fields: Dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action") or ""
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def read_auto_submit_form(page: str, base_url: str) -> Optional[Tuple[str, Dict[str, str]]]:
    """The first form of ``page``: its absolute action and its fields (None: no form)."""
    parser = _FirstForm()
    parser.feed(page)
    if parser.action is None:
        return None
    return urljoin(base_url, parser.action), parser.fields
