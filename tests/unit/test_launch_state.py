"""Minted states, per-login cookies and parked launches (issue 9, items 1, 3, 5, 6, 12, 17)."""

from __future__ import annotations

import logging
import os
import sys
import tracemalloc
from pathlib import Path

import pytest

from ltiauthenticator.lti13 import _embedding, _tool_keys
from ltiauthenticator.lti13._platform_storage import ParkedLaunches
from ltiauthenticator.lti13._registration import PlatformRegistration
from ltiauthenticator.lti13._state import (
    _deserialize_state,
    _serialize_state,
    launch_cookie_header,
    launch_cookie_names,
    mint_state,
    next_url_from_target_link_uri,
    open_state,
    sanitize_next_url,
    state_key,
)
from ltiauthenticator.lti13.error import BusyError, ReplayError, StateError

KEY = state_key(b"the hub's cookie secret")
NOW = 1_800_000_000


def mint(**extra):
    return mint_state(
        KEY, next_url="/hub/home", registration_id="lms", nonce="n1", now=NOW, **extra
    )


def test_a_minted_state_opens_and_stays_readable_by_the_established_helpers():
    state = mint(storage="frame")
    fields = open_state(KEY, state, now=NOW + 5)
    assert fields["next_url"] == "/hub/home" and fields["storage"] == "frame"
    assert _deserialize_state(state)["state_id"] == fields["state_id"]


@pytest.mark.parametrize(
    "forge",
    [
        lambda s: _serialize_state({**_deserialize_state(s), "next_url": "/hub/evil"}),
        lambda s: _serialize_state({**_deserialize_state(s), "storage": "mallory"}),
        lambda s: _serialize_state({k: v for k, v in _deserialize_state(s).items() if k != "sig"}),
        lambda s: _serialize_state({"state_id": "x", "storage": "f", "platform": "lms"}),
        lambda s: mint_state(
            state_key(b"another hub"), next_url="", registration_id="lms", nonce="n"
        ),
        lambda s: s[:-4],
        lambda s: "",
    ],
    ids=[
        "changed-next",
        "changed-storage",
        "no-signature",
        "hand-made",
        "other-key",
        "cut",
        "empty",
    ],
)
def test_only_states_this_hub_minted_open(forge):
    with pytest.raises(StateError, match="did not issue"):
        open_state(KEY, forge(mint()), now=NOW)


def test_old_and_future_states_are_refused():
    with pytest.raises(StateError, match="too long ago"):
        open_state(KEY, mint(), now=NOW + 601)
    with pytest.raises(StateError, match="too long ago"):
        open_state(KEY, mint(), now=NOW - 3600)


def test_each_login_has_its_own_cookies_and_https_ones_are_host_only():
    state, nonce = launch_cookie_names("abc", secure=True)
    assert state.startswith("__Host-lti13-state-") and nonce.startswith("__Host-lti13-nonce-")
    assert launch_cookie_names("abd", secure=True) != (state, nonce)
    header = launch_cookie_header(state, "v", path="/hub/lti13/", secure=True)
    # __Host-: Secure, Path=/ and no Domain, or the browser refuses the cookie
    assert "Path=/;" in header and "Secure" in header and "Domain" not in header
    plain_state, _ = launch_cookie_names("abc", secure=False)
    assert plain_state.startswith("lti13authenticator-state-")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "https://hub/hub/?next=/hub/user-redirect/git-pull?repo=https://github.com/a/b"
            "&branch=main&urlpath=lab/tree/b",
            "/hub/user-redirect/git-pull?repo=https://github.com/a/b&branch=main&urlpath=lab/tree/b",
        ),
        (
            "https://hub/hub/?next=%2Fhub%2Fuser-redirect%2Fgit-pull%3Frepo%3Dx%26branch%3Dy",
            "/hub/user-redirect/git-pull?repo=x&branch=y",
        ),
        ("https://hub/hub/?next=/hub/home&x=1", "/hub/home"),
        ("http://[::1", ""),
        ("https://hub/hub/?next=http://[::1", "http://[::1"),
    ],
)
def test_next_from_target_link_uri(target, expected):
    assert next_url_from_target_link_uri(target, "/", "/hub/") == expected


def test_unparsable_next_urls_are_dropped():
    assert sanitize_next_url("http://[::1") == ""
    assert sanitize_next_url("http://[::1/hub/") == ""


# -- parked launches ---------------------------------------------------------------------------


def test_one_park_per_token_and_each_ticket_once():
    parked = ParkedLaunches(max_entries=10)
    ticket = parked.park("nonce-a", {"id_token": "t", "state": "s"})
    with pytest.raises(ReplayError, match="already waiting"):
        parked.park("nonce-a", {"id_token": "t", "state": "s"})
    assert parked.take("nonce-a.wrong-secret") is None
    assert parked.take(ticket) == {"id_token": "t", "state": "s"}
    assert parked.take(ticket) is None


def test_a_full_parking_refuses_new_launches_and_keeps_waiting_ones():
    now = [0.0]
    parked = ParkedLaunches(max_entries=3, clock=lambda: now[0])
    tickets = [parked.park(f"n{i}", {"id_token": "t"}, keep_for=100) for i in range(3)]
    with pytest.raises(BusyError):
        parked.park("n3", {"id_token": "t"})
    assert parked.take(tickets[0]) is not None  # the waiting launch was not evicted
    now[0] = 101
    assert parked.park("n4", {"id_token": "t"})


def test_parking_is_bounded_in_bytes():
    parked = ParkedLaunches(max_entries=1000, max_bytes=100_000)
    big = {"id_token": "x" * 30_000, "state": "s"}
    for i in range(3):
        parked.park(f"n{i}", big)
    with pytest.raises(BusyError):
        parked.park("n3", big)
    assert parked.stored_bytes <= 100_000


def test_parking_memory_is_bounded_under_a_flood():
    """The default bounds, measured: a flood of 10,000 parks of 3 KB tokens."""
    parked = ParkedLaunches()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    refused = 0
    for i in range(10_000):
        try:
            parked.park(f"nonce-{i}", {"id_token": "t" * 3000, "state": "s" * 400})
        except BusyError:
            refused += 1
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert refused == 10_000 - parked.max_entries
    assert grown < 12 * 1024 * 1024  # 2,000 parked launches of ~3.4 KB each, plus records


# -- the tool key file -----------------------------------------------------------------------


def test_two_processes_creating_the_key_file_at_once_share_one_key(tmp_path):
    path = tmp_path / "key.pem"
    # the module on its own, not through the package (which imports JupyterHub): the four
    # interpreters start in a fraction of the time, and race the same way
    script = (
        "import importlib.util, sys;"
        "spec = importlib.util.spec_from_file_location('_tool_keys', sys.argv[1]);"
        "keys = importlib.util.module_from_spec(spec); spec.loader.exec_module(keys);"
        "sys.stdout.write(keys.load_or_create_private_key('', sys.argv[2]).decode())"
    )
    import subprocess

    module = _tool_keys.__file__
    runs = [
        subprocess.Popen([sys.executable, "-c", script, module, str(path)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    keys = {run.communicate(timeout=60)[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert keys == {path.read_bytes()}
    assert (os.stat(path).st_mode & 0o777) == 0o600


def test_a_world_readable_key_file_is_reported(tmp_path, caplog):
    path = tmp_path / "key.pem"
    path.write_bytes(_tool_keys.generate_private_key_pem())
    path.chmod(0o644)
    log = logging.getLogger("test-keys")
    with caplog.at_level(logging.WARNING, logger="test-keys"):
        _tool_keys.load_or_create_private_key("", str(path), log)
    assert "can be read by other users" in caplog.text and "chmod 600" in caplog.text


def test_an_empty_key_file_is_a_clear_error(tmp_path):
    path = Path(tmp_path / "key.pem")
    path.write_text("")
    with pytest.raises(ValueError, match="tool_private_key_file .* is empty or not a PEM key"):
        _tool_keys.load_or_create_private_key("", str(path))


# -- allow_iframe ------------------------------------------------------------------------------


class _App:
    def __init__(self, tornado_settings):
        self.tornado_settings = tornado_settings
        self.ssl_cert = "cert.pem"


def _canvas(frame_origins=("https://school.instructure.com",)):
    return PlatformRegistration(
        issuer="https://canvas.instructure.com",
        client_ids=frozenset({"1"}),
        authorize_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
        jwks_endpoint="https://sso.canvaslms.com/api/lti/security/jwks",
        frame_origins=tuple(frame_origins),
    )


def test_allow_iframe_frames_only_the_named_origins(caplog):
    app = _App({})
    _embedding.allow_hub_in_iframe(app, [_canvas()], logging.getLogger("t"))
    policy = app.tornado_settings["headers"]["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://school.instructure.com;" in policy
    assert "canvas.instructure.com " not in policy and "sso.canvaslms.com" not in policy


def test_allow_iframe_keeps_the_admins_cookie_options(caplog):
    app = _App({"cookie_options": {"samesite": "Lax"}})
    with caplog.at_level(logging.WARNING, logger="t"):
        _embedding.allow_hub_in_iframe(app, [_canvas()], logging.getLogger("t"))
    options = app.tornado_settings["cookie_options"]
    assert options["samesite"] == "Lax" and options["secure"] is True
    assert "keeping the cookie options" in caplog.text


def test_partitioned_is_added_to_cross_site_cookies_only():
    from http.cookies import Morsel

    from tornado.httputil import HTTPHeaders

    app = _App({"compress_response": True})
    _embedding.allow_hub_in_iframe(app, [_canvas()], logging.getLogger("t"))
    transforms = app.tornado_settings["transforms"]
    assert transforms[-1] is _embedding.PartitionedCrossSiteCookies
    assert len(transforms) == 2  # tornado's compression is kept
    headers = HTTPHeaders()
    headers.add("Set-Cookie", "jupyterhub-session-id=1; Path=/; SameSite=None; Secure")
    headers.add("Set-Cookie", "other=2; Path=/; SameSite=Lax; Secure")
    headers.add("Set-Cookie", "__Host-lti13-state-a=3; Path=/; Secure; SameSite=None; Partitioned")
    _, headers, _ = _embedding.PartitionedCrossSiteCookies(None).transform_first_chunk(
        200, headers, b"", True
    )
    cookies = headers.get_list("Set-Cookie")
    assert cookies[0].endswith("SameSite=None; Secure; Partitioned")
    assert cookies[1] == "other=2; Path=/; SameSite=Lax; Secure"  # untouched
    assert cookies[2].count("Partitioned") == 1
    # Python's cookie module is not patched, for this hub or anything else in the process
    # (3.14 knows the attribute itself)
    assert ("partitioned" in Morsel._reserved) == (sys.version_info >= (3, 14))
