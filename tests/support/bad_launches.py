"""The 1EdTech tool-certification known-bad launches, as one table.

Each case: the :class:`~ltiauthenticator.platform_emulator.Launch` fields that break it,
the HTTP status the hub must answer with, and words of the reason it must give.
Unit tests run every case through the validator (tests/unit/test_claims_matrix.py);
the flow tier sends a handful through a real hub.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Tuple

from ltiauthenticator.lti13 import constants as c

FUTURE = 3600

BadLaunch = Tuple[Dict[str, Any], int, str]

BAD_LAUNCHES: Dict[str, BadLaunch] = {
    "no kid": (dict(headers={"kid": None}), 400, "names no signing key (kid)"),
    "unknown kid": (dict(headers={"kid": "not-published"}), 400, "does not publish"),
    "wrong LTI version": (dict(claims={c.VERSION_CLAIM: "1.2.0"}), 400, "LTI version 1.3.0 only"),
    "no LTI version": (dict(claims={c.VERSION_CLAIM: None}), 400, "'version' claim"),
    "no message_type": (dict(claims={c.MESSAGE_TYPE_CLAIM: None}), 400, "'message_type' claim"),
    "unknown message_type": (
        dict(claims={c.MESSAGE_TYPE_CLAIM: "LtiSubmissionReviewRequest"}),
        400,
        "message_type",
    ),
    "no roles": (dict(claims={c.ROLES_CLAIM: None}), 400, "'roles' claim"),
    "roles not a list": (dict(claims={c.ROLES_CLAIM: "Learner"}), 400, "must be a list of strings"),
    "no deployment_id": (dict(claims={c.DEPLOYMENT_ID_CLAIM: None}), 400, "'deployment_id' claim"),
    "no resource_link id": (
        dict(claims={c.RESOURCE_LINK_CLAIM: {"title": "x"}}),
        400,
        "resource_link' claim's id",
    ),
    "no resource_link": (dict(claims={c.RESOURCE_LINK_CLAIM: None}), 400, "'resource_link' claim"),
    "empty context id": (
        dict(claims={c.CONTEXT_CLAIM: {"id": "", "label": "DATA 101"}}),
        400,
        "context' claim's id",
    ),
    "no user": (
        dict(claims={"sub": None, "email": None}),
        400,
        "Unable to set the username with username_key email",
    ),
    "expired": (dict(iat_offset=-400, exp_seconds=60), 400, "Signature has expired"),
    "issued in the future": (dict(iat_offset=FUTURE), 400, "The token is not yet valid (iat)"),
    "too old": (dict(iat_offset=-900, exp_seconds=3600), 400, "issued more than 600 seconds ago"),
    "not valid before": (
        dict(claims={"nbf": int(time.time()) + FUTURE}),
        400,
        "not yet valid (nbf)",
    ),
    "exp as a string": (
        dict(claims={"exp": str(int(time.time()) + 300)}),
        400,
        "'exp' claim must be a number",
    ),
    "no exp": (dict(claims={"exp": None}), 400, "'exp' claim"),
    "no iat": (dict(claims={"iat": None}), 400, "'iat' claim"),
    "wrong iss": (dict(claims={"iss": "https://evil.example"}), 400, "Invalid issuer"),
    "wrong aud": (dict(aud="someone-else"), 401, "Audience doesn't match"),
    "aud as a number": (dict(aud=42), 400, "'aud' claim must be"),
    "aud list without azp": (
        dict(aud=["jupyterhub-tool", "other-tool"]),
        401,
        "azp claim is missing although multiple values for aud are given.",
    ),
    "azp not ours": (
        dict(claims={"azp": "other-tool"}),
        401,
        "azp claim does not match client_id.",
    ),
    "aud list with foreign azp": (
        dict(aud=["jupyterhub-tool", "other-tool"], claims={"azp": "other-tool"}),
        401,
        "azp claim does not match client_id.",
    ),
    "sub as a list": (dict(claims={"sub": ["a"]}), 400, "'sub' claim must be a string"),
    "custom not an object": (dict(claims={c.CUSTOM_CLAIM: ["x"]}), 400, "'custom' claim must be"),
}

#: The cases the flow tier also sends through a real hub: one per layer of checks
#: (header, key, registered claims, audience, LTI claims, username).
THROUGH_HTTP = [
    "no kid",
    "unknown kid",
    "expired",
    "wrong aud",
    "aud list without azp",
    "unknown message_type",
    "no user",
]
