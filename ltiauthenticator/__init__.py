"""JupyterHub authenticators for LTI launches: LTI 1.3 (``ltiauthenticator.lti13``) and,
kept from the 1.x releases, LTI 1.1 (``ltiauthenticator.lti11``)."""

__version__ = "2.0.0.dev0"

from .lti11.auth import LTI11Authenticator as LTIAuthenticator  # noqa: E402

__all__ = ["LTIAuthenticator", "__version__"]
