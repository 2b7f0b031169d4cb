"""LTI11LaunchValidator against launches signed by oauthlib (an independent signer)."""

from __future__ import annotations

import time
from typing import Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature
from tornado.web import HTTPError

from ltiauthenticator.lti11 import _oauth1
from ltiauthenticator.lti11._nonces import NonceStore
from ltiauthenticator.lti11.validator import MAX_VALUE_LENGTH, LTI11LaunchValidator

from .conftest import CONSUMER_KEY, CONSUMER_SECRET, launch_params, sign

URL = "https://hub.example.edu/hub/lti/launch"
CONSUMERS = {CONSUMER_KEY: CONSUMER_SECRET}


class Clock:
    """A settable clock, so the timestamp window is tested without waiting."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def validator() -> LTI11LaunchValidator:
    return LTI11LaunchValidator(CONSUMERS, nonces=NonceStore(max_entries=1000))


def signed(**overrides) -> Dict[str, str]:
    return sign(URL, launch_params("ada", **overrides))


def refusal(validator: LTI11LaunchValidator, args, url: str = URL) -> HTTPError:
    with pytest.raises(HTTPError) as info:
        validator.validate_launch_request(url, {}, args)
    return info.value


def test_a_launch_signed_by_oauthlib_is_valid(validator) -> None:
    assert validator.validate_launch_request(URL, {}, signed()) is True


def test_unicode_reserved_characters_and_a_query_string_are_signed_alike(validator) -> None:
    url = URL + "?course=data%20101&x=%E2%9C%93"
    params = launch_params("zoë", custom_note="a&b=c d+e/ü✓", lis_person_name_full="Zoë O'Neil")
    form = sign(url, params, secret="s&cr=t ü")
    args = {**form, "course": "data 101", "x": "✓"}  # tornado merges query and form
    consumers = {CONSUMER_KEY: "s&cr=t ü"}
    assert LTI11LaunchValidator(consumers, nonces=NonceStore()).validate_launch_request(
        url, {}, args
    )


def test_the_default_port_and_the_case_of_scheme_and_host_do_not_matter(validator) -> None:
    form = sign("https://hub.example.edu/hub/lti/launch", launch_params("ada"))
    assert validator.validate_launch_request("HTTPS://Hub.Example.EDU:443/hub/lti/launch", {}, form)


def test_a_non_default_port_is_signed(validator) -> None:
    form = sign("https://hub.example.edu:8443/hub/lti/launch", launch_params("ada"))
    assert refusal(validator, form).status_code == 401
    url = "https://hub.example.edu:8443/hub/lti/launch"
    assert validator.validate_launch_request(url, {}, form)


@pytest.mark.parametrize(
    "name",
    [
        "oauth_consumer_key",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_version",
        "oauth_signature",
    ],
)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_a_missing_or_empty_oauth_argument_gets_400(validator, name, how) -> None:
    form = signed()
    if how == "missing":
        del form[name]
    else:
        form[name] = ""
    error = refusal(validator, form)
    assert error.status_code == 400
    assert name in str(error)


def test_oauth_callback_is_optional(validator) -> None:
    form = signed()
    assert "oauth_callback" not in form
    assert validator.validate_launch_request(URL, {}, form)


@pytest.mark.parametrize("name", ["lti_message_type", "lti_version", "resource_link_id", "user_id"])
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_a_missing_or_empty_lti_argument_gets_400(validator, name, how) -> None:
    form = signed(**{name: None if how == "missing" else ""})
    error = refusal(validator, form)
    assert error.status_code == 400
    assert name in str(error)


def test_an_unknown_consumer_key_gets_401(validator) -> None:
    error = refusal(validator, sign(URL, launch_params("ada"), key="other", secret="x"))
    assert error.status_code == 401
    assert "oauth_consumer_key" in str(error)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda f: f.update(user_id="admin"),
        lambda f: f.update(custom_extra="1"),
        # a different first character, whatever the signature was
        lambda f: f.update(
            oauth_signature="AB"[f["oauth_signature"][0] == "A"] + f["oauth_signature"][1:]
        ),
        lambda f: f.update(oauth_nonce=f["oauth_nonce"] + "x"),
    ],
    ids=["changed-value", "added-argument", "changed-signature", "changed-nonce"],
)
def test_a_tampered_launch_gets_401(validator, tamper) -> None:
    form = signed()
    tamper(form)
    error = refusal(validator, form)
    assert error.status_code == 401
    assert "oauth_signature" in str(error)


def test_a_wrong_secret_gets_401(validator) -> None:
    error = refusal(validator, sign(URL, launch_params("ada"), secret="wrong"))
    assert error.status_code == 401


def test_a_signature_method_other_than_hmac_sha1_gets_401(validator) -> None:
    form = sign(URL, launch_params("ada"), signature_method="PLAINTEXT")
    error = refusal(validator, form)
    assert error.status_code == 401
    assert "HMAC-SHA1" in str(error)


@pytest.mark.parametrize(
    "offset, accepted",
    [(0, True), (30, True), (-30, True), (31, False), (-31, False), (3600, False)],
)
def test_the_timestamp_window_is_30_seconds(offset, accepted) -> None:
    timestamp = 1_700_000_000
    validator = LTI11LaunchValidator(
        CONSUMERS, nonces=NonceStore(), clock=Clock(timestamp + offset)
    )
    form = sign(URL, launch_params("ada"), timestamp=str(timestamp))
    if accepted:
        assert validator.validate_launch_request(URL, {}, form)
    else:
        error = refusal(validator, form)
        assert error.status_code == 401 and "oauth_timestamp" in str(error)


@pytest.mark.parametrize(
    "timestamp", ["abc", "170000000", "17000000000", "1.70000000", " 170000000"]
)
def test_a_timestamp_that_is_not_ten_digits_gets_401(validator, timestamp) -> None:
    error = refusal(validator, sign(URL, launch_params("ada"), timestamp=timestamp))
    assert error.status_code == 401


def test_a_replayed_nonce_gets_401(validator) -> None:
    form = signed()
    assert validator.validate_launch_request(URL, {}, form)
    error = refusal(validator, dict(form))
    assert error.status_code == 401
    assert "already used" in str(error)


def test_a_nonce_may_come_again_with_another_timestamp_and_vice_versa() -> None:
    clock = Clock(1_700_000_000)
    validator = LTI11LaunchValidator(CONSUMERS, nonces=NonceStore(), clock=clock)
    first = sign(URL, launch_params("ada"), nonce="n1", timestamp="1700000000")
    same_nonce = sign(URL, launch_params("ada"), nonce="n1", timestamp="1700000001")
    same_time = sign(URL, launch_params("ada"), nonce="n2", timestamp="1700000000")
    for form in (first, same_nonce, same_time):
        assert validator.validate_launch_request(URL, {}, form)


def test_validators_built_per_launch_share_the_nonce_record() -> None:
    form = signed()
    assert LTI11LaunchValidator(CONSUMERS).validate_launch_request(URL, {}, form)
    assert refusal(LTI11LaunchValidator(CONSUMERS), form).status_code == 401


def test_a_repeated_argument_gets_400(validator) -> None:
    form = signed()
    form["roles"] = ["Learner", "Instructor"]
    error = refusal(validator, form)
    assert error.status_code == 400 and "roles" in str(error)


def test_a_huge_value_gets_413(validator) -> None:
    form = signed(custom_blob="x" * (MAX_VALUE_LENGTH + 1))
    assert refusal(validator, form).status_code == 413


def test_too_many_arguments_get_413(validator) -> None:
    form = sign(URL, {**launch_params("ada"), **{f"custom_{i}": "x" for i in range(600)}})
    assert refusal(validator, form).status_code == 413


@pytest.mark.parametrize(
    "url", ["http://[::1/hub/lti/launch", "ftp://hub/lti/launch", "http://hub:99999/lti/launch"]
)
def test_an_unusable_launch_url_gets_400(validator, url) -> None:
    assert refusal(validator, signed(), url=url).status_code == 400


def test_a_percent_in_a_message_does_not_break_the_error(validator) -> None:
    form = signed()
    form["100%s"] = ["a", "b"]
    assert "100%s" in str(refusal(validator, form))


# -- the signer, compared with oauthlib's own base string ------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    params=st.dictionaries(_text, _text, max_size=8),
    path=st.text(st.sampled_from("abc/-._~"), max_size=10),
    port=st.sampled_from([None, 80, 443, 8000]),
)
def test_our_base_string_equals_oauthlibs(params, path, port) -> None:
    url = f"http://Hub.example.edu{':' + str(port) if port else ''}/{path}"
    ours = _oauth1.signature_base_string("post", url, params.items())
    theirs = oauthlib_signature.signature_base_string(
        "POST",
        oauthlib_signature.base_string_uri(url),
        oauthlib_signature.normalize_parameters(
            [(k, v) for k, v in params.items() if k != "oauth_signature"]
        ),
    )
    assert ours == theirs


def test_the_base_string_matches_the_rfc_5849_example() -> None:
    # RFC 5849 section 3.4.1.1: the example request (query, form and header parameters,
    # repeated names, empty values, encoded "=") and its signature base string.
    base = (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26"
        "b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26"
        "oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D"
        "137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    )
    params = [
        ("b5", "=%3D"),
        ("a3", "a"),
        ("c@", ""),
        ("a2", "r b"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
        ("c2", ""),
        ("a3", "2 q"),
    ]
    assert (
        _oauth1.signature_base_string("POST", "http://example.com/request?b5=%3D%253D", params)
        == base
    )


def test_hmac_sha1_matches_the_oauth_core_example() -> None:
    # OAuth Core 1.0 appendix A.5 (photos.example.net): base string and signature.
    params = {
        "file": "vacation.jpg",
        "size": "original",
        "oauth_consumer_key": "dpf43f3p2l4k3l03",
        "oauth_token": "nnch734d00sl2jdk",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1191242096",
        "oauth_nonce": "kllo9940pd9333jh",
        "oauth_version": "1.0",
    }
    base = _oauth1.signature_base_string("GET", "http://photos.example.net/photos", params.items())
    assert base == (
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26"
        "oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26"
        "oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26"
        "oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"
    )
    signature = _oauth1.hmac_sha1_signature(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00")
    assert signature == "tR3+Ty81lMeYAr/Fid0kMTYa/WM="


def test_signatures_compare_in_constant_time_helper() -> None:
    assert _oauth1.signatures_match("abc=", "abc=")
    assert not _oauth1.signatures_match("abc=", "abd=")
    assert not _oauth1.signatures_match("abc=", "✓")


def test_a_fresh_launch_after_the_window_is_not_remembered_forever() -> None:
    clock = Clock(time.monotonic())
    store = NonceStore(max_entries=10, clock=clock)
    assert store.use("k", "1700000000", "n")
    assert not store.use("k", "1700000000", "n")
    clock.now += store.ttl + 1
    assert store.use("k", "1700000000", "n")  # forgotten: its timestamp is long refused
    assert len(store) == 1
