"""A cookie-keeping HTTP client that drives launches like a browser without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import requests

from ltiauthenticator.platform_emulator.forms import read_auto_submit_form


def parse_form(page: str, base_url: str) -> Tuple[str, Dict[str, str]]:
    """The first form of an auto-submitting page: its absolute action and its fields."""
    form = read_auto_submit_form(page, base_url)
    if form is None:
        raise AssertionError(f"no form in page:\n{page[:2000]}")
    return form


@dataclass
class LaunchResult:
    login: requests.Response  # the hub's answer to the login initiation
    authorization: Optional[requests.Response] = None  # the platform's auto-submit page
    callback: Optional[requests.Response] = None  # the hub's answer to the form POST
    form: Optional[Dict[str, str]] = None
    action: str = ""

    @property
    def final(self) -> requests.Response:
        return self.callback or self.authorization or self.login


class LaunchClient:
    """A browser stand-in: keeps cookies, follows the launch step by step."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def login_initiation(self, url: str, method: str = "GET") -> requests.Response:
        if method == "POST":
            base, _, query = url.partition("?")
            data = {k: v[0] for k, v in parse_qs(query).items()}
            return self.session.post(base, data=data, allow_redirects=False, timeout=15)
        return self.session.get(url, allow_redirects=False, timeout=15)

    def authorize(self, login_response: requests.Response) -> requests.Response:
        assert login_response.status_code == 302, (
            login_response.status_code,
            login_response.text[-600:],
        )
        return self.session.get(login_response.headers["Location"], timeout=15)

    def post_form(self, action: str, fields: Dict[str, str]) -> requests.Response:
        return self.session.post(action, data=fields, allow_redirects=False, timeout=30)

    def launch(self, login_url: str, method: str = "GET", tamper=None) -> LaunchResult:
        """Run a whole launch; ``tamper(fields)`` may change the form before it is posted."""
        result = LaunchResult(login=self.login_initiation(login_url, method))
        if result.login.status_code != 302:
            return result
        result.authorization = self.authorize(result.login)
        if result.authorization.status_code != 200:
            return result
        result.action, result.form = parse_form(result.authorization.text, result.authorization.url)
        if tamper is not None:
            tamper(result.form)
        result.callback = self.post_form(result.action, result.form)
        return result

    def hub_path(self, response: requests.Response) -> str:
        return urlsplit(response.headers.get("Location", "")).path
