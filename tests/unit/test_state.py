"""State, nonce, next-URL sanitising, cookies and the single-use record."""

import hashlib

import pytest

from ltiauthenticator.lti13._state import (
    SingleUseRecord,
    launch_cookie_header,
    next_url_from_target_link_uri,
    sanitize_next_url,
)
from ltiauthenticator.lti13.error import BusyError
from ltiauthenticator.lti13.handlers import (
    NONCE_STATE_COOKIE_NAME,
    STATE_COOKIE_NAME,
    _deserialize_state,
    _serialize_state,
    get_nonce,
    make_nonce_state,
)


def test_contract_names():
    assert STATE_COOKIE_NAME == "lti13authenticator-state"
    assert NONCE_STATE_COOKIE_NAME == "lti13authenticator-nonce-state"


def test_nonce_is_the_sha256_of_a_fresh_nonce_state():
    first, second = make_nonce_state(), make_nonce_state()
    assert first != second and len(first) >= 32
    assert get_nonce(first) == hashlib.sha256(first.encode()).hexdigest()


def test_state_round_trip_and_malformed_values():
    state = {"state_id": "abc", "next_url": "/hub/home"}
    assert _deserialize_state(_serialize_state(state)) == state
    for garbage in ["", "!!!", "bm90IGpzb24=", "WzEsMl0=", None]:
        assert _deserialize_state(garbage) == {}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/user-redirect/lab?x=1", "/user-redirect/lab?x=1"),
        ("https://evil.example/a", "/a"),
        ("//evil.example/a", "/a"),
        ("///evil.example/a", "/evil.example/a"),
        ("/\\evil.example", "/%5Cevil.example"),
        ("\\\\evil.example", ""),
        ("javascript:alert(1)", ""),
        ("relative/path", ""),
        ("/a b\r\nSet-Cookie: x=1", "/a%20bSet-Cookie:%20x=1"),
        ("", ""),
    ],
)
def test_next_url_never_leaves_the_hub(url, expected):
    assert sanitize_next_url(url) == expected


def test_next_url_must_be_under_the_base_url():
    assert sanitize_next_url("/other/app", "/jupyter/") == ""
    assert sanitize_next_url("/jupyter/hub/home", "/jupyter/") == "/jupyter/hub/home"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://hub.example/hub/", ""),
        ("https://hub.example/", ""),
        ("https://hub.example", ""),
        ("https://hub.example/hub/?next=%2Fuser-redirect%2Flab", "/user-redirect/lab"),
        ("https://hub.example/user-redirect/lab?a=1", "/user-redirect/lab?a=1"),
    ],
)
def test_next_url_from_target_link_uri(target, expected):
    assert next_url_from_target_link_uri(target, "/", "/hub/") == expected


def test_launch_cookie_attributes():
    secure = launch_cookie_header("n", "v", path="/hub/lti13/", secure=True)
    assert "SameSite=None" in secure and "Secure" in secure and "Partitioned" in secure
    assert "HttpOnly" in secure and "Path=/hub/lti13/" in secure and "Max-Age=600" in secure
    plain = launch_cookie_header("n", "v", path="/hub/lti13/", secure=False)
    assert "SameSite" not in plain and "Secure" not in plain
    cleared = launch_cookie_header("n", "", path="/hub/lti13/", secure=True, max_age=0)
    assert "Max-Age=0" in cleared and "SameSite=None" in cleared and "Partitioned" in cleared


def test_single_use_record_is_single_use_expiring_and_bounded():
    now = [0.0]
    record = SingleUseRecord(ttl=10, max_entries=100, clock=lambda: now[0])
    assert record.use("a") and not record.use("a")
    now[0] = 11
    assert record.use("a")  # expired, so forgotten
    for i in range(99):
        record.use(f"v{i}")
    assert len(record) == 100
    # full of live entries: refuse (503) rather than forget a value that could be replayed
    with pytest.raises(BusyError):
        record.use("one-too-many")
    assert not record.use("a") and record.refused == 1
    now[0] = 22  # everything expired: room again
    assert record.use("one-too-many")


def test_single_use_record_keeps_each_value_for_its_own_time():
    now = [0.0]
    record = SingleUseRecord(ttl=10, clock=lambda: now[0])
    record.use("short")
    record.use("long", keep_for=3600)
    now[0] = 600
    assert record.use("short") and not record.use("long")
    now[0] = 3601
    assert record.use("long")
