"""The LTI 1.1 launch endpoint (``/lti/launch``) and the configuration XML (``/lti11/config``)."""

from __future__ import annotations

from typing import Any

from jupyterhub.handlers import BaseHandler
from tornado.web import HTTPError

from ..lti13._state import sanitize_next_url
from .templates import render_config_xml


class LTI11AuthenticateHandler(BaseHandler):
    """Receives the LMS's launch form POST, logs the user in and redirects.

    The user lands on the ``custom_next`` launch argument when it names a page of this
    hub (an off-site URL is reduced to the same path here), else on JupyterHub's default
    next URL. Override points: ``post``, ``get_launch_next_url``.
    """

    def check_xsrf_cookie(self) -> None:
        """LTI launches are cross-site form POSTs, which cannot carry JupyterHub's
        ``_xsrf`` token; the OAuth signature and nonce protect this endpoint instead."""
        return

    def set_login_cookie(self, user: Any) -> None:
        super().set_login_cookie(user)
        # JupyterHub skips the hub cookie when the browser is already logged in as this
        # user; set it anyway (as 1.6.3 did) so every launch refreshes the login.
        self.set_hub_cookie(user)

    async def get(self) -> None:
        raise HTTPError(
            405,
            "%s",
            "LTI 1.1 launches are form POSTs from the LMS: open this hub from its link "
            "in your course.",
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:  # tornado clears headers before an error page: add it here
            self.set_header("Allow", "POST")
        super().write_error(status_code, **kwargs)

    async def post(self) -> None:
        user = await self.login_user()
        if user is None:
            raise HTTPError(403, "%s", "User missing or null: this hub does not admit this user.")
        self.redirect(self.get_launch_next_url(user))

    def get_launch_next_url(self, user: Any = None) -> str:
        """``custom_next`` reduced to a path on this hub, else the default next URL."""
        requested = self.get_body_argument("custom_next", default="")
        return sanitize_next_url(requested, self.base_url) or self.get_next_url(user)


class LTI11ConfigHandler(BaseHandler):
    """Serves the LTI 1.1 tool configuration XML (title, description, icon, launch URL)."""

    def get(self) -> None:
        protocol = self.authenticator.get_uri_scheme(self.request)
        launch_path = self.authenticator.login_url(self.hub.base_url)
        launch_url = f"{protocol}://{self.request.host}{launch_path}"
        self.set_header("Content-Type", "application/xml")
        self.write(
            render_config_xml(
                title=self.authenticator.config_title,
                description=self.authenticator.config_description,
                icon=self.authenticator.config_icon,
                launch_url=launch_url,
            )
        )
