"""Framing: which pages an LMS may show in an iframe, and the opt-in framable hub.

Two concerns live here:

* the pages of the launch itself (login initiation, callback, their error pages) are
  always framable by the registered platforms, or a launch inside an LMS iframe would
  end on a blank "refused to connect" frame instead of the explanation;
* with ``LTI13Authenticator.allow_iframe`` the whole hub becomes usable inside the LMS
  iframe: JupyterHub's own cookies become ``SameSite=None; Secure`` (and ``Partitioned``,
  added by an output transform of the hub's application) and its
  ``Content-Security-Policy`` allows the registered platforms as ``frame-ancestors``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple

from tornado.httputil import HTTPHeaders
from tornado.web import GZipContentEncoding, OutputTransform

from ._platform_storage import platform_origins


def registered_origins(registrations: Iterable[Any]) -> List[str]:
    """Origins that may frame the launch pages: each registration's ``frame_origins``,
    its issuer and its authorization endpoint."""
    origins: List[str] = []
    for registration in registrations:
        for origin in [*registration.frame_origins, *platform_origins(registration)]:
            origin = origin.rstrip("/").lower()
            if origin not in origins:
                origins.append(origin)
    return origins


def explicit_frame_origins(registrations: Iterable[Any]) -> List[str]:
    """The origins the admin named (``frame_origins``): the only ones that may frame the
    whole hub. Issuer origins are no good for that: Canvas cloud's issuer,
    ``canvas.instructure.com``, is where anyone can sign up and embed."""
    origins: List[str] = []
    for registration in registrations:
        for origin in registration.frame_origins:
            origin = origin.rstrip("/").lower()
            if origin not in origins:
                origins.append(origin)
    return origins


def frame_ancestors(registrations: Iterable[Any], origins: Iterable[str] = ()) -> str:
    """``frame-ancestors 'self' <origins>`` for a Content-Security-Policy (by default the
    launch pages' :func:`registered_origins`)."""
    origins = list(origins) or registered_origins(registrations)
    return " ".join(["frame-ancestors", "'self'", *origins])


def _needs_partition(set_cookie: str) -> bool:
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
    cross_site = "samesite=none" in set_cookie.replace(" ", "").lower()
    return cross_site and "secure" in attributes and "partitioned" not in attributes


class _PartitioningHeaders(HTTPHeaders):
    """Response headers that mark cross-site cookies ``Partitioned`` as they are added."""

    def add(self, name: str, value: str) -> None:
        if name.lower() == "set-cookie" and _needs_partition(value):
            value += "; Partitioned"
        super().add(name, value)


class PartitionedCrossSiteCookies(OutputTransform):
    """Adds ``Partitioned`` to the hub's cross-site (``SameSite=None; Secure``) cookies.

    Partitioned (CHIPS) cookies are the ones a browser that blocks third-party cookies
    still keeps inside an iframe, keyed by the top-level site (the LMS). Python's cookie
    module cannot write the attribute before 3.14, and patching it would change every
    cookie of the process; instead the hub's responses get headers that add it to
    cross-site cookies as tornado writes them (after this transform runs). Every other
    cookie is left as set.
    """

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> Tuple[int, HTTPHeaders, bytes]:
        partitioning = _PartitioningHeaders()
        for name, value in headers.get_all():
            partitioning.add(name, value)
        return status_code, partitioning, chunk


def _add_output_transform(settings: Dict[str, Any]) -> None:
    """``tornado_settings["transforms"]`` reaches ``tornado.web.Application(transforms=…)``;
    keep tornado's own default (compression) when replacing it."""
    transforms = settings.get("transforms")
    if transforms is None:
        compress = settings.get("compress_response") or settings.get("gzip")
        transforms = [GZipContentEncoding] if compress else []
    if PartitionedCrossSiteCookies not in transforms:
        transforms.append(PartitionedCrossSiteCookies)
    settings["transforms"] = transforms


IFRAME_COOKIE_OPTIONS = {"samesite": "None", "secure": True}


def allow_hub_in_iframe(app: Any, registrations: Iterable[Any], log: Any) -> None:
    """Make JupyterHub's pages and cookies work inside the platforms' iframes.

    Called from ``LTI13Authenticator.get_handlers(app)``. JupyterHub calls that *after*
    ``init_tornado_settings`` (JupyterHub 4.1 to 6), so ``app.tornado_settings`` is the
    final dict handed to ``tornado.web.Application``; if a JupyterHub version ever calls it
    before, the values set here are merged by ``init_tornado_settings`` (configured
    tornado settings take priority there), so both orders work. Settings the admin made
    explicitly (their own ``Content-Security-Policy`` header) are kept.
    """
    settings = app.tornado_settings
    _add_output_transform(settings)
    cookie_options = settings.setdefault("cookie_options", {})
    chosen = {k: v for k, v in cookie_options.items() if k in IFRAME_COOKIE_OPTIONS}
    if chosen:
        log.warning(
            "LTI13Authenticator.allow_iframe: keeping the cookie options configured in "
            "JupyterHub.tornado_settings (%s); the hub works in an LMS iframe only with "
            "SameSite=None, Secure and Partitioned cookies",
            ", ".join(f"{k}={v!r}" for k, v in sorted(chosen.items())),
        )
    wanted = {k: v for k, v in IFRAME_COOKIE_OPTIONS.items() if k not in chosen}
    cookie_options.update(wanted)
    xsrf = settings.get("xsrf_cookie_kwargs")
    if xsrf:  # already derived from cookie_options by init_tornado_settings
        xsrf.update({k: v for k, v in wanted.items() if k not in xsrf})
    origins = explicit_frame_origins(registrations)

    headers = settings.setdefault("headers", {})
    if not any(name.lower() == "content-security-policy" for name in headers):
        base_url = getattr(getattr(app, "hub", None), "base_url", "/hub/")
        headers["Content-Security-Policy"] = "; ".join(
            [frame_ancestors(registrations, origins), f"report-uri {base_url}security/csp-report"]
        )
    else:
        log.warning(
            "LTI13Authenticator.allow_iframe: keeping the Content-Security-Policy header "
            "configured in JupyterHub.tornado_settings; make sure its frame-ancestors "
            "names the LMS"
        )

    secure = bool(getattr(app, "ssl_cert", "")) or str(
        getattr(app, "public_url", "") or getattr(app, "bind_url", "")
    ).startswith("https:")
    if not secure:
        log.warning(
            "LTI13Authenticator.allow_iframe is on but JupyterHub does not serve https "
            "itself: the hub's cookies are now Secure, so the hub must be reached over "
            "https (e.g. TLS terminated by a proxy in front of it)"
        )
    log.info(
        "LTI13Authenticator.allow_iframe: hub cookies are SameSite=None; Secure; "
        "Partitioned, and pages may be framed by %s",
        ", ".join(origins) or "no platform",
    )
