"""Prometheus counters, served on JupyterHub's own ``/hub/metrics``.

JupyterHub exposes the default ``prometheus_client`` registry, so counters defined here
appear next to JupyterHub's own without any extra endpoint.
"""

from prometheus_client import Counter

LAUNCHES = Counter(
    "ltiauthenticator_launches",
    "LTI 1.3 launches that reached the callback, by outcome and refusal reason",
    ["outcome", "reason"],
)

LOGIN_INITIATIONS = Counter(
    "ltiauthenticator_login_initiations",
    "LTI 1.3 login initiations, by outcome and refusal reason",
    ["outcome", "reason"],
)

JWKS_FETCHES = Counter(
    "ltiauthenticator_jwks_fetches",
    "Fetches of platform JSON Web Key Sets, by result",
    ["result"],
)

REGISTRATIONS = Counter(
    "ltiauthenticator_dynamic_registrations",
    "LTI Dynamic Registration requests, by outcome and refusal reason",
    ["outcome", "reason"],
)
