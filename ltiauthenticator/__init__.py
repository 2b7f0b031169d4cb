"""JupyterHub authenticators for LTI launches: LTI 1.3 (``ltiauthenticator.lti13``) and,
kept from the 1.x releases, LTI 1.1 (``ltiauthenticator.lti11``)."""

from __future__ import annotations

__version__ = "2.0.0.dev0"

__all__ = ["LTIAuthenticator", "__version__"]


def __getattr__(name: str) -> type:
    # ``LTIAuthenticator`` (LTI 1.1, as in 1.x) is imported on first use: the command
    # lines (``python -m ltiauthenticator.grades``, the emulator) and LTI 1.3 hubs then
    # start without importing the LTI 1.1 code and JupyterHub's handlers.
    if name == "LTIAuthenticator":
        from .lti11.auth import LTI11Authenticator

        globals()[name] = LTI11Authenticator
        return LTI11Authenticator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
