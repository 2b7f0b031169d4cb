"""An LTI 1.3 platform (LMS) emulator: a small real web app that signs genuine id_tokens.

It plays the LMS side of a launch: a course page starts launches, the authorization
endpoint checks the tool's request as strictly as a real LMS and answers with an
auto-submitting form POST carrying an RS256-signed id_token, and the JWKS endpoint
publishes the platform's public keys. The test suite, the benchmark and the demo use it.

Run it with ``python -m ltiauthenticator.platform_emulator --help``.
"""

from .app import make_app
from .platform import EmulatedPlatform, Launch, ToolRegistration

__all__ = ["EmulatedPlatform", "Launch", "ToolRegistration", "make_app"]
