"""Hypothesis strategies for claim sets: values that always make a claim invalid."""

from __future__ import annotations

from hypothesis import strategies as st

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._claims import MESSAGE_TYPES

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
not_a_str = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.lists(st.text(), max_size=2)
    | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
)


# Fixed bounds and values, so each example draws the same way on every run.
LONG_AGO = 1_000_000_000  # 2001
FAR_AHEAD = 4_000_000_000  # 2096


def invalid_value(name: str, issuer: str = "http://localhost") -> st.SearchStrategy:
    """Strategies that always make claim ``name`` invalid (whatever the launch's values)."""
    short_text = st.text(max_size=30)  # never a 64-hex nonce, never the emulator's issuer URL
    return {
        "iss": short_text.filter(lambda t: not t.startswith(issuer)) | not_a_str,
        "aud": st.text(max_size=20).filter(lambda t: t != "jupyterhub-tool")
        | st.lists(st.text(max_size=8).filter(lambda t: t != "jupyterhub-tool"), max_size=3)
        | st.integers()
        | st.none(),
        "exp": st.integers(max_value=LONG_AGO) | st.text(max_size=12) | st.none() | st.booleans(),
        "iat": st.integers(min_value=FAR_AHEAD, max_value=2**62)
        | st.integers(max_value=LONG_AGO)
        | st.text(max_size=12)
        | st.booleans(),
        "nonce": short_text | not_a_str,
        c.VERSION_CLAIM: json_values.filter(lambda v: v != "1.3.0"),
        c.MESSAGE_TYPE_CLAIM: json_values.filter(lambda v: v not in list(MESSAGE_TYPES)),
        # an empty deployment_id, roles "" and an empty target_link_uri are accepted, as
        # the established plugin accepts them
        c.DEPLOYMENT_ID_CLAIM: not_a_str | st.just("x" * 256),
        c.ROLES_CLAIM: st.text(min_size=1, max_size=10)
        | st.integers()
        | st.none()
        | st.lists(st.integers(), min_size=1, max_size=3),
        c.RESOURCE_LINK_CLAIM: not_a_str.filter(lambda v: not isinstance(v, dict))
        | st.dictionaries(st.sampled_from(["title", "description"]), st.text(max_size=5)),
        c.TARGET_LINK_URI_CLAIM: not_a_str,
    }[name]


REQUIRED = [
    "iss",
    "aud",
    "exp",
    "iat",
    "nonce",
    c.VERSION_CLAIM,
    c.MESSAGE_TYPE_CLAIM,
    c.DEPLOYMENT_ID_CLAIM,
    c.ROLES_CLAIM,
    c.RESOURCE_LINK_CLAIM,
    c.TARGET_LINK_URI_CLAIM,
]
