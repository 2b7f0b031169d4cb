"""Who may log in by default: everyone the LMS vouches for, unless the admin restricts it.

Shared by the LTI 1.1 and LTI 1.3 authenticators.
"""

from __future__ import annotations

from jupyterhub.auth import Authenticator
from traitlets import Bool, default


class AdmitLaunchedUsers(Authenticator):
    """An authenticator whose ``allow_all`` is true unless ``allowed_users`` is set."""

    allow_all = Bool(
        True,
        config=True,
        help="""Admit everyone the LMS launches (true unless ``allowed_users`` is set).

        The LMS already decided who may open the tool, so by default every launched user
        may log in, as before JupyterHub 5. Setting ``Authenticator.allowed_users`` makes
        this false (only those users, plus ``admin_users``, get in); set it to false
        explicitly to admit nobody but ``allowed_users`` and users admitted by a
        ``check_allowed`` override. ``LTI13Authenticator.allowed_roles`` and
        ``deployment_ids`` restrict launches whatever this says. See the "Who can log in"
        page.

        .. versionchanged:: 2.0
           The effective default is documented here; JupyterHub's own default is false.
        """,
    )

    @default("allow_all")
    def _default_allow_all(self) -> bool:
        return not self.allowed_users
