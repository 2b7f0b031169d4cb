"""Claim URIs and the required arguments and claims of an LTI 1.3 launch.

References: 1EdTech LTI Core 1.3 (https://www.imsglobal.org/spec/lti/v1p3/) and
Deep Linking 2.0 (https://www.imsglobal.org/spec/lti-dl/v2p0/).
"""

LTI_CLAIM_PREFIX = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING_CLAIM_PREFIX = "https://purl.imsglobal.org/spec/lti-dl/claim/"

MESSAGE_TYPE_CLAIM = LTI_CLAIM_PREFIX + "message_type"
VERSION_CLAIM = LTI_CLAIM_PREFIX + "version"
DEPLOYMENT_ID_CLAIM = LTI_CLAIM_PREFIX + "deployment_id"
TARGET_LINK_URI_CLAIM = LTI_CLAIM_PREFIX + "target_link_uri"
ROLES_CLAIM = LTI_CLAIM_PREFIX + "roles"
RESOURCE_LINK_CLAIM = LTI_CLAIM_PREFIX + "resource_link"
CONTEXT_CLAIM = LTI_CLAIM_PREFIX + "context"
CUSTOM_CLAIM = LTI_CLAIM_PREFIX + "custom"
LIS_CLAIM = LTI_CLAIM_PREFIX + "lis"
TOOL_PLATFORM_CLAIM = LTI_CLAIM_PREFIX + "tool_platform"
LAUNCH_PRESENTATION_CLAIM = LTI_CLAIM_PREFIX + "launch_presentation"
ROLE_SCOPE_MENTOR_CLAIM = LTI_CLAIM_PREFIX + "role_scope_mentor"
DEEP_LINKING_SETTINGS_CLAIM = DEEP_LINKING_CLAIM_PREFIX + "deep_linking_settings"

LTI_VERSION = "1.3.0"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)

# Login initiation (third-party initiated login, Security Framework 1.0 §5.1.1).
LTI13_LOGIN_REQUEST_ARGS = ["iss", "login_hint", "target_link_uri"]
LTI13_LOGIN_OPTIONAL_ARGS = ["lti_message_hint", "client_id", "lti_deployment_id", "next"]
# What the platform sends to start one launch (``next`` is this hub's own addition).
LTI13_LAUNCH_PARAMETERS = [
    *LTI13_LOGIN_REQUEST_ARGS,
    *(name for name in LTI13_LOGIN_OPTIONAL_ARGS if name != "next"),
]

# The form POST of the authentication response (Security Framework 1.0 §5.1.1.3).
LTI13_AUTH_RESPONSE_ARGS = ["id_token", "state"]

# Claims every id_token of a launch must carry (OIDC core plus LTI core).
LTI13_REQUIRED_TOKEN_CLAIMS = ["iss", "aud", "exp", "iat", "nonce"]
LTI13_GENERAL_REQUIRED_CLAIMS = [MESSAGE_TYPE_CLAIM, VERSION_CLAIM, DEPLOYMENT_ID_CLAIM]

# Per message type (LTI Core 1.3 §5.3, Deep Linking 2.0 §4.4).
LTI13_RESOURCE_LINK_REQUIRED_CLAIMS = [
    *LTI13_GENERAL_REQUIRED_CLAIMS,
    TARGET_LINK_URI_CLAIM,
    ROLES_CLAIM,
    RESOURCE_LINK_CLAIM,
]
LTI13_DEEP_LINKING_REQUIRED_CLAIMS = [
    *LTI13_GENERAL_REQUIRED_CLAIMS,
    DEEP_LINKING_SETTINGS_CLAIM,
]
LTI13_DEEP_LINKING_SETTINGS_REQUIRED = [
    "deep_link_return_url",
    "accept_types",
    "accept_presentation_document_targets",
]

# Signature algorithms a platform may use. Symmetric algorithms and "none" are never
# acceptable: the platform's keys are public.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)
