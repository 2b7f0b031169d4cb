"""The error family of the LTI 1.3 authenticator.

Every error carries the HTTP status it maps to, a short machine-readable ``reason``
code (used in logs and metrics), and a message that is safe to show to the person
whose launch failed. ``handlers.py`` is the only place that turns them into HTTP
responses.
"""

from __future__ import annotations


class LTI13Error(Exception):
    """Base class: a launch refused for a reason we can explain."""

    status_code = 400
    reason = "invalid_request"
    #: A short title for the error page (and the HTTP reason phrase).
    title = "The launch could not be completed"

    def __init__(
        self, message: str, *, reason: str | None = None, hint: str = "", detail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        #: Advice for the person in front of the browser, shown after the message.
        self.hint = hint
        #: What the hub administrator should know (logged with the refusal).
        self.detail = detail

    def user_message(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ValidationError(LTI13Error):
    """The login request, the launch form or the id_token is not acceptable."""

    reason = "invalid"


class MissingRequiredArgumentError(ValidationError):
    """A required request argument or claim is missing or empty."""

    reason = "missing_argument"


class IncorrectValueError(ValidationError):
    """An argument or claim has a value (or a type) we cannot accept."""

    reason = "incorrect_value"


class TokenError(ValidationError):
    """The id_token is malformed, badly signed, expired or otherwise unusable."""

    reason = "bad_token"


class InvalidAudienceError(ValidationError):
    """The id_token was not issued to one of our client ids (``aud`` / ``azp``)."""

    status_code = 401
    reason = "wrong_audience"
    title = "The launch was meant for another tool"


class StateError(ValidationError):
    """The launch does not belong to a login this browser started."""

    reason = "state"
    title = "The login could not be matched to this browser"


class ReplayError(ValidationError):
    """A state or nonce was presented a second time."""

    reason = "replay"


class PayloadTooLargeError(ValidationError):
    """An argument is larger than we are willing to parse."""

    status_code = 413
    reason = "too_large"
    title = "The launch request is too large"


class LoginError(LTI13Error):
    """The launch was valid, but no JupyterHub user can be derived from it."""

    reason = "no_username"
    title = "The launch does not say who you are"


class KeyFetchError(LTI13Error):
    """The platform's key set could not be obtained: our problem, not the browser's."""

    status_code = 503
    reason = "jwks_unavailable"
    title = "The learning platform's keys are unavailable"


class BusyError(LTI13Error):
    """A bounded record is full of live entries: refuse new work rather than forget."""

    status_code = 503
    reason = "busy"
    title = "The hub is busy"


class MethodNotAllowedError(LTI13Error):
    """The launch endpoint was called with the wrong HTTP method."""

    status_code = 405
    reason = "method_not_allowed"
    title = "Launches must be sent as a form POST"


class LaunchForbiddenError(LTI13Error):
    """The launch was valid, but JupyterHub's access rules do not admit this user."""

    status_code = 403
    reason = "not_allowed"
    title = "Access to this hub is not granted"


class RegistrationInactiveError(LTI13Error):
    """The launch comes from a dynamic registration that may not launch (yet)."""

    status_code = 403
    reason = "registration_inactive"
    title = "This learning platform is not approved on the hub yet"

    @classmethod
    def for_status(cls, status: str) -> RegistrationInactiveError:
        if status == "disabled":
            return cls(
                "This learning platform registered with the hub, but a hub administrator "
                "has disabled the registration.",
                reason="registration_disabled",
                hint="Ask the hub administrator to enable it again on the hub's "
                "LTI registrations page.",
            )
        return cls(
            "This learning platform registered with the hub, but a hub administrator has "
            "not approved the registration yet.",
            reason="registration_pending",
            hint="Ask the hub administrator to approve it on the hub's LTI registrations "
            "page (/hub/lti13/registrations).",
        )


class DynamicRegistrationError(LTI13Error):
    """A dynamic registration request, or the platform's part of it, is not acceptable."""

    reason = "registration_refused"
    title = "The tool could not be registered"


class RegistrationConflictError(DynamicRegistrationError):
    """The platform is already registered (pending, active or disabled)."""

    status_code = 409
    reason = "already_registered"


class PlatformUnreachableError(DynamicRegistrationError):
    """The platform's registration endpoints did not answer usably: a gateway problem."""

    status_code = 502
    reason = "platform_unreachable"
    title = "The learning platform did not answer"


class DynamicRegistrationOffError(DynamicRegistrationError):
    """The registration URL was opened on a hub that does not offer it.

    403 rather than 404: JupyterHub's 404 page shows no message, and the LMS admin who
    pasted the URL needs to read this one.
    """

    status_code = 403
    reason = "dynamic_registration_off"
    title = "This hub does not offer dynamic registration"


class RegistrationAdminError(LTI13Error):
    """A hub admin's action on a registration cannot be done as asked."""

    reason = "registration_admin"
    title = "The registration was not changed"


class NotAHubAdminError(RegistrationAdminError):
    """Someone who is not a hub admin opened the registrations page."""

    status_code = 403
    reason = "not_admin"
    title = "Only hub admins can review LTI registrations"


class UnknownRegistrationError(RegistrationAdminError):
    """The registration an admin acted on does not exist (any more)."""

    reason = "unknown_registration"


class RegistrationStoreUnavailableError(LTI13Error):
    """The registration store (its database) could not be read or written."""

    status_code = 503
    reason = "store_unavailable"
    title = "The hub's registration store is unavailable"
