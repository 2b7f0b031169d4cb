"""LTI 1.3 (OpenID Connect third-party initiated login) for JupyterHub."""

from ._lti1p1 import LTI1P1_CLAIM, LTI1p1ClaimError, lti1p1_username

__all__ = ["LTI1P1_CLAIM", "LTI1p1ClaimError", "lti1p1_username"]
