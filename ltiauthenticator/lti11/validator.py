"""LTI11LaunchValidator: checks an LTI 1.1 launch request (OAuth 1.0a, HMAC-SHA1).

The order of the checks: shape (sizes, duplicates) → required ``oauth_*`` arguments →
known consumer key → required LTI arguments → timestamp window → signature method →
signature → nonce. The nonce is recorded last, only for launches whose signature holds,
so unsigned floods cannot fill the nonce record.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping, Optional

from tornado.web import HTTPError
from traitlets.config import LoggingConfigurable

from . import _oauth1
from ._nonces import NonceStore
from .constants import (
    LTI11_LTI_ARGS_REQUIRED,
    LTI11_OAUTH_ARGS,
    SIGNATURE_METHOD,
    TIMESTAMP_WINDOW,
)

#: Limits on what a launch form may hold; real launches stay far below them.
MAX_ARGUMENTS = 500
MAX_VALUE_LENGTH = 64 * 1024
MAX_TOTAL_LENGTH = 1024 * 1024


def _refuse(status: int, message: str) -> HTTPError:
    # "%s" keeps a "%" inside the message from being read as a format by tornado.
    return HTTPError(status, "%s", message)


class LTI11LaunchValidator(LoggingConfigurable):
    """Validates LTI 1.1 launch requests for the consumers (key → secret) given.

    ``nonces`` is the record of used nonces; by default one record is shared by every
    validator of the process (as in 1.6.3), so a validator built per request still
    refuses replays. ``clock`` returns the current Unix time (injectable for tests).
    """

    #: The process-wide record of used nonces (bounded, expiring).
    nonces: NonceStore = NonceStore()

    def __init__(
        self,
        consumers: Mapping[str, str],
        nonces: Optional[NonceStore] = None,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.consumers = consumers
        if nonces is not None:
            self.nonces = nonces
        self.clock = clock

    def validate_launch_request(
        self,
        launch_url: str,
        headers: Mapping[str, Any],
        args: Mapping[str, Any],
    ) -> bool:
        """Return True for a valid launch, else raise ``tornado.web.HTTPError``.

        ``launch_url`` is the URL the consumer posted to, as the browser saw it (scheme,
        host, port, path, query). ``args`` holds every request argument (query and form)
        as ``{name: str}``; a list value means the argument was repeated, which is
        refused. ``headers`` is accepted for compatibility; LTI 1.1 launches carry their
        OAuth parameters in the form, and only there are they read.

        400: an argument is repeated, missing or empty (413 when too large).
        401: unknown consumer key, timestamp malformed or outside the 30 s window,
        signature method other than HMAC-SHA1, wrong signature, nonce already used.
        """
        self._check_shape(args)
        self._check_required(args, LTI11_OAUTH_ARGS, "OAuth")
        if args["oauth_consumer_key"] not in self.consumers:
            raise _refuse(
                401,
                "Unknown oauth_consumer_key: the consumer key set in the LMS is not one of "
                "LTI11Authenticator.consumers.",
            )
        self._check_required(args, LTI11_LTI_ARGS_REQUIRED, "LTI 1.1")
        self._check_timestamp(args["oauth_timestamp"])
        self._check_signature(launch_url, args)
        if not self.nonces.use(
            args["oauth_consumer_key"], args["oauth_timestamp"], args["oauth_nonce"]
        ):
            raise _refuse(
                401,
                "This launch was already used (oauth_nonce and oauth_timestamp seen "
                "before): launch again from the LMS.",
            )
        return True

    # -- the checks, in order ----------------------------------------------------------

    @staticmethod
    def _check_shape(args: Mapping[str, Any]) -> None:
        if len(args) > MAX_ARGUMENTS:
            raise _refuse(413, f"The launch has more than {MAX_ARGUMENTS} arguments.")
        total = 0
        for name, value in args.items():
            if not isinstance(value, str):
                raise _refuse(
                    400,
                    f"The launch argument {name[:64]!r} is given more than once; LTI 1.1 "
                    "launches name each argument once.",
                )
            if len(value) > MAX_VALUE_LENGTH:
                raise _refuse(
                    413,
                    f"The launch argument {name[:64]!r} is longer than "
                    f"{MAX_VALUE_LENGTH} characters.",
                )
            total += len(name) + len(value)
        if total > MAX_TOTAL_LENGTH:
            raise _refuse(413, f"The launch is larger than {MAX_TOTAL_LENGTH} characters.")

    @staticmethod
    def _check_required(args: Mapping[str, Any], names: Iterable[str], kind: str) -> None:
        for name in names:
            if name not in args:
                raise _refuse(400, f"Required {kind} argument {name} is missing from the launch.")
            if not args[name]:
                raise _refuse(400, f"Required {kind} argument {name} is empty.")

    def _check_timestamp(self, timestamp: str) -> None:
        # Ten digits: Unix seconds between 2001 and 2286, as 1.6.3 required.
        if not (len(timestamp) == 10 and timestamp.isascii() and timestamp.isdigit()):
            raise _refuse(401, "oauth_timestamp must be Unix time in seconds (10 digits).")
        skew = int(self.clock() - int(timestamp))
        if abs(skew) > TIMESTAMP_WINDOW:
            raise _refuse(
                401,
                f"oauth_timestamp differs from the hub's clock by {skew} seconds (at most "
                f"{TIMESTAMP_WINDOW} are allowed): launch again, and if this persists, "
                "check the clocks of the LMS and the hub.",
            )

    def _check_signature(self, launch_url: str, args: Mapping[str, str]) -> None:
        if args["oauth_signature_method"] != SIGNATURE_METHOD:
            raise _refuse(
                401,
                f"oauth_signature_method must be {SIGNATURE_METHOD} for LTI 1.1 launches.",
            )
        try:
            base_string = _oauth1.signature_base_string("POST", launch_url, args.items())
        except _oauth1.LaunchURLError as e:
            raise _refuse(400, f"The launch URL cannot be rebuilt: {e}.") from None
        secret = self.consumers[args["oauth_consumer_key"]]
        expected = _oauth1.hmac_sha1_signature(base_string, secret)
        if not _oauth1.signatures_match(expected, args["oauth_signature"]):
            # The launch URL is logged (without its query): most mismatches come from a
            # proxy that changes the scheme, host or port the hub sees.
            self.log.debug(
                "LTI 1.1 signature mismatch; signed launch URL taken as %s",
                _oauth1.base_string_uri(launch_url),
            )
            raise _refuse(
                401,
                "Invalid oauth_signature: check that the consumer secret in "
                "LTI11Authenticator.consumers matches the one in the LMS, and that the "
                "hub sees the launch URL the LMS used (set LTI11Authenticator.uri_scheme "
                "when a proxy terminates TLS).",
            )
