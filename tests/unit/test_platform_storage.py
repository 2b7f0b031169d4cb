"""Platform storage (cookie-less launches): names, origins, pages and parked launches."""

import json
import re

import pytest

from ltiauthenticator.lti13 import _platform_storage as storage
from ltiauthenticator.lti13._registration import PlatformRegistration
from ltiauthenticator.lti13.error import BusyError


def registration(authorize_url: str, issuer: str) -> PlatformRegistration:
    return PlatformRegistration(
        issuer=issuer,
        client_ids=frozenset({"c"}),
        authorize_url=authorize_url,
        jwks_endpoint=issuer + "/jwks",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("post_message_forwarding", "post_message_forwarding"),
        ("_parent", "_parent"),
        ("a" * 64, "a" * 64),
        ("a" * 65, ""),
        ("", ""),
        ("frame name", ""),
        ("x<script>", ""),
        (None, ""),
        (["a", "b"], ""),
        (5, ""),
    ],
)
def test_storage_target_takes_plausible_frame_names_only(value, expected):
    assert storage.storage_target(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://LMS.example.edu/api/auth?x=1", "https://lms.example.edu"),
        ("http://localhost:8765/authorize", "http://localhost:8765"),
        ("javascript:alert(1)", ""),
        ("https://", ""),
        ("//lms.example.edu/x", ""),
        ("http://[::1", ""),  # unparsable
        ("", ""),
    ],
)
def test_origin_of(url, expected):
    assert storage.origin_of(url) == expected


def test_platform_origins_put_the_authorization_endpoint_first_without_duplicates():
    canvas = registration(
        "https://sso.canvaslms.com/api/lti/authorize_redirect", "https://canvas.instructure.com"
    )
    assert storage.platform_origins(canvas) == [
        "https://sso.canvaslms.com",
        "https://canvas.instructure.com",
    ]
    moodle = registration("https://moodle.example.edu/auth.php", "https://moodle.example.edu")
    assert storage.platform_origins(moodle) == ["https://moodle.example.edu"]


def test_storage_keys_are_per_login_and_do_not_reveal_the_state_id():
    state_key, nonce_key = storage.storage_keys("state-id-1")
    assert state_key.startswith("lti13.state.") and nonce_key.startswith("lti13.nonce.")
    assert state_key.split(".")[-1] == nonce_key.split(".")[-1]
    assert "state-id-1" not in state_key
    assert storage.storage_keys("state-id-2") != (state_key, nonce_key)
    assert storage.storage_keys("state-id-1") == (state_key, nonce_key)


def page_config(page: str) -> dict:
    match = re.search(r"id='lti-storage-config'>(.*?)</script>", page, re.S)
    assert match
    return json.loads(match.group(1))


def test_put_data_page_carries_exactly_its_configuration():
    page = storage.put_data_page(
        target="frame",
        origin="https://lms.example.edu",
        origins=["https://lms.example.edu"],
        items=[("k1", "v1"), ("k2", "v2")],
        next_url="https://lms.example.edu/auth?a=1&b=2",
    )
    config = page_config(page)
    assert config == {
        "mode": "put",
        "target": "frame",
        "origin": "https://lms.example.edu",
        "origins": ["https://lms.example.edu"],
        "items": [["k1", "v1"], ["k2", "v2"]],
        "next": "https://lms.example.edu/auth?a=1&b=2",
        "timeout": storage.MESSAGE_TIMEOUT_MS,
    }
    # without JavaScript, a link continues to the platform
    assert "<noscript><a href='https://lms.example.edu/auth?a=1&amp;b=2'>" in page


def test_values_cannot_break_out_of_the_script_element():
    hostile = "</script><script>alert(1)</script><!--&"
    page = storage.put_data_page(
        target="frame",
        origin="https://lms.example.edu",
        origins=["https://lms.example.edu"],
        items=[("k", hostile)],
        next_url="https://lms.example.edu/auth",
    )
    assert hostile not in page and "alert(1)</script>" not in page
    assert page_config(page)["items"] == [["k", hostile]]  # still the same value


def test_get_data_page_names_the_fields_of_the_second_post():
    config = page_config(
        storage.get_data_page(
            target="frame",
            origin="https://lms.example.edu",
            origins=["https://lms.example.edu"],
            keys=("ks", "kn"),
            ticket="t1",
            action="/hub/lti13/oauth_callback",
        )
    )
    assert config["mode"] == "get" and config["keys"] == ["ks", "kn"]
    assert config["ticket"] == "t1" and config["action"] == "/hub/lti13/oauth_callback"
    assert config["fields"] == {
        "ticket": storage.TICKET_FIELD,
        "state": storage.STATE_FIELD,
        "nonce_state": storage.NONCE_STATE_FIELD,
        "error": storage.ERROR_FIELD,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_parked_launch_is_taken_once():
    parked = storage.ParkedLaunches(clock=Clock())
    form = {"id_token": "t", "state": "s"}
    ticket = parked.park("nonce-1", form)
    form["state"] = "changed later"
    assert parked.take(ticket) == {"id_token": "t", "state": "s"}  # a copy was kept
    assert parked.take(ticket) is None
    assert len(parked) == 0


@pytest.mark.parametrize("ticket", [None, "", 5, ["a"], "unknown", "nonce-1.wrong", "a.b.c"])
def test_take_without_a_valid_ticket_is_none(ticket):
    parked = storage.ParkedLaunches(clock=Clock())
    parked.park("nonce-1", {"id_token": "t"})
    assert parked.take(ticket) is None
    assert len(parked) == 1


def test_parked_launches_expire_and_stay_bounded():
    clock = Clock()
    parked = storage.ParkedLaunches(max_entries=3, clock=clock)
    old = parked.park("n-old", {"n": "0"}, keep_for=120)
    clock.now = 121
    assert parked.take(old) is None  # expired
    tickets = [parked.park(f"n{i}", {"n": str(i)}) for i in range(3)]
    with pytest.raises(BusyError):  # full: the waiting launches are kept, the new one refused
        parked.park("n3", {"n": "3"})
    assert parked.take(tickets[0]) == {"n": "0"}
