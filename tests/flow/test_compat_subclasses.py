"""Subclasses written against the established plugin keep working on a real hub.

The config below is what deployments have: handler subclasses overriding the
synchronous hooks and calling ``super()``, an authenticator naming them through its class
attributes, and constants imported in ``jupyterhub_config.py``.
"""

from __future__ import annotations

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.platform_emulator import Launch

from ..conftest import render_config

SUBCLASSES = """
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler, LTI13LoginInitHandler


class AuditedCallback(LTI13CallbackHandler):
    def decode_and_validate_launch_request(self):
        claims = super().decode_and_validate_launch_request()
        self.log.info("AUDIT custom fields %s", sorted(claims.get(LTI13_CUSTOM_CLAIM, {})))
        return claims

    def check_nonce(self, claims):
        super().check_nonce(claims)
        self.log.info("AUDIT nonce checked")


class TaggedLogin(LTI13LoginInitHandler):
    def get_redirect_uri(self):
        uri = super().get_redirect_uri()
        self.log.info("AUDIT redirect_uri path %s", uri.split("/", 3)[-1])
        return uri


class CourseAuthenticator(LTI13Authenticator):
    login_handler = TaggedLogin
    callback_handler = AuditedCallback

    def get_username(self, claims):
        return "course-" + super().get_username(claims)


c.JupyterHub.authenticator_class = CourseAuthenticator
c.CourseAuthenticator.username_key = "custom_uname"
"""


def test_established_subclasses_run_a_launch(hub_pool, base_auth_config, emulator, client, user):
    config = {"CourseAuthenticator": base_auth_config["LTI13Authenticator"]}
    hub = hub_pool.get(SUBCLASSES + render_config(config))
    hub.begin_test()
    try:
        with emulator.launching_into(hub.url):
            custom = {c.CUSTOM_CLAIM: {"uname": user}}
            _, url = emulator.start_launch(Launch(user=user, claims=custom))
            result = client.launch(url)
        assert result.callback.status_code == 302, result.final.text[-800:]
        assert hub.user(f"course-{user}") is not None
        log = hub.log_text()
        assert "AUDIT redirect_uri path hub/lti13/oauth_callback" in log
        assert "AUDIT custom fields ['uname']" in log
        assert "AUDIT nonce checked" in log
    finally:
        hub.end_test()
