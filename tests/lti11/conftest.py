"""LTI 1.1 fixtures: launches signed by oauthlib (an independent OAuth 1 implementation)
and real JupyterHubs configured as the 1.6.3 documentation configured them."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Dict, Iterator, Optional
from urllib.parse import parse_qsl

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC, SIGNATURE_TYPE_BODY, Client

from tests.support.hub import Hub, free_port

CONSUMER_KEY = "client-key"
CONSUMER_SECRET = "client-secret-" + secrets.token_hex(8)

#: A hub config as the 1.6.3 documentation wrote it (``LTIAuthenticator`` alias and its
#: config section), taken unchanged.
DOCS_CONFIG = f"""
c.JupyterHub.authenticator_class = "ltiauthenticator.LTIAuthenticator"
c.LTIAuthenticator.consumers = {{{CONSUMER_KEY!r}: {CONSUMER_SECRET!r}}}
c.LTIAuthenticator.username_key = "lis_person_contact_email_primary"
"""


def launch_params(user: str, **overrides: Optional[str]) -> Dict[str, str]:
    """The arguments of a typical LTI 1.1 launch from an LMS; ``None`` drops one."""
    params = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "resource_link_id": "link-" + secrets.token_hex(4),
        "resource_link_title": "Week 1 notebook",
        "user_id": f"lti11-{user}",
        "roles": "Learner",
        "lis_person_name_full": f"{user.title()} Example",
        "lis_person_contact_email_primary": f"{user}@example.edu",
        "context_id": "course-101",
        "context_label": "DATA101",
        "context_title": "Introduction to Data Science",
        "tool_consumer_info_product_family_code": "moodle",
        "launch_presentation_return_url": "https://lms.example.edu/course/101",
    }
    for name, value in overrides.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def sign(
    url: str,
    params: Dict[str, str],
    key: str = CONSUMER_KEY,
    secret: str = CONSUMER_SECRET,
    **client_options: Any,
) -> Dict[str, str]:
    """The form an LMS posts: ``params`` plus the ``oauth_*`` fields, signed by oauthlib."""
    options = {"signature_method": SIGNATURE_HMAC, **client_options}
    client = Client(key, client_secret=secret, signature_type=SIGNATURE_TYPE_BODY, **options)
    _, _, body = client.sign(
        url,
        http_method="POST",
        body=params,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return dict(parse_qsl(body, keep_blank_values=True))


def unique_user() -> str:
    return "u" + secrets.token_hex(4)


class LTI11Hub(Hub):
    """A real JupyterHub; ``db_name`` and ``crypt_key`` may outlive one process, so a test
    can restart the hub with another configuration over the same users."""

    measured = True  # the LTI 1.1 handlers run in these hub processes only

    def __init__(self, *args: Any, db_name: str = "", crypt_key: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.db_name = db_name
        self.crypt_key = crypt_key

    def config_text(self) -> str:
        text = super().config_text()
        if self.db_name:
            text += f"c.JupyterHub.db_url = 'sqlite:///{self.workdir / self.db_name}'\n"
        return text

    def environment(self) -> Dict[str, str]:
        env = super().environment()
        if self.crypt_key:
            env["JUPYTERHUB_CRYPT_KEY"] = self.crypt_key
        return env

    @property
    def launch_url(self) -> str:
        return f"{self.url}/hub/lti/launch"

    def post_launch(
        self, form: Any, session: Optional[requests.Session] = None, **kwargs: Any
    ) -> requests.Response:
        """POST the launch form like a browser would, without following the redirect."""
        return (session or requests.Session()).post(
            self.launch_url, data=form, allow_redirects=False, timeout=15, **kwargs
        )


@pytest.fixture(scope="module")
def lti11_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LTI11Hub]:
    """A hub with the 1.6.3 documentation's LTI 1.1 configuration."""
    workdir: Path = tmp_path_factory.mktemp("lti11-hub")
    hub = LTI11Hub(free_port(), workdir, DOCS_CONFIG, "lti11").start()
    yield hub
    hub.stop()
