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
# What each message type requires is one table: ``_claims.MESSAGE_TYPES``.

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


# -- the established plugin's names (1.6.3), with its values --------------------------------
# Deployments import these in jupyterhub_config.py and in their own code; the checks above
# are what this package enforces.

LTI13_CUSTOM_CLAIM = CUSTOM_CLAIM
LTI13_INIT_LOGIN_REQUEST_ARGS = LTI13_LOGIN_REQUEST_ARGS
LTI13_AUTH_REQUEST_ARGS = [
    "client_id",
    "login_hint",
    "lti_message_hint",
    "nonce",
    "prompt",
    "redirect_uri",
    "response_mode",
    "response_type",
    "scope",
    "state",
]

_LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
_MEMBERSHIP = _LIS + "membership#"
_INSTITUTION = _LIS + "institution/person#"
_SYSTEM = _LIS + "system/person#"
_COURSE_TYPES = [
    _LIS + "course#" + kind
    for kind in ("CourseTemplate", "CourseOffering", "CourseSection", "Group")
]

LTI13_GENERAL_REQUIRED_CLAIMS = {
    VERSION_CLAIM: LTI_VERSION,
    DEPLOYMENT_ID_CLAIM: "",
    TARGET_LINK_URI_CLAIM: "",
    ROLES_CLAIM: "",
    "aud": "",
    "exp": None,
    "iat": None,
    "iss": "",
    "nonce": "",
}
LTI13_GENERAL_OPTIONAL_CLAIMS = {
    CONTEXT_CLAIM: {"id": "", "label": "", "title": "", "type": _COURSE_TYPES},
    "sub": "",
    "azp": "",
    TOOL_PLATFORM_CLAIM: {
        "guid": "",
        "name": "",
        "version": "",
        "product_family_code": "",
        "validation_context": None,
        "errors": {"errors": {}},
    },
    LAUNCH_PRESENTATION_CLAIM: {
        "document_target": "",
        "height": "",
        "width": "",
        "return_url": "",
        "locale": "",
    },
}
LTI13_RESOURCE_LINK_REQUEST_REQUIRED_CLAIMS = {
    MESSAGE_TYPE_CLAIM: RESOURCE_LINK_REQUEST,
    RESOURCE_LINK_CLAIM: {"id": ""},
    **LTI13_GENERAL_REQUIRED_CLAIMS,
}
LTI13_RESOURCE_LINK_OPTIONAL_CLAIMS = {
    **LTI13_GENERAL_OPTIONAL_CLAIMS,
    RESOURCE_LINK_CLAIM: {"description": "", "title": ""},
}
LTI13_DEEP_LINKING_REQUIRED_CLAIMS = {
    MESSAGE_TYPE_CLAIM: DEEP_LINKING_REQUEST,
    **LTI13_GENERAL_REQUIRED_CLAIMS,
    **LTI13_GENERAL_OPTIONAL_CLAIMS,
}
LTI13_LIS_CLAIMS = {
    LIS_CLAIM: {
        name: ""
        for name in (
            "course_offering_sourcedid",
            "course_section_sourcedid",
            "outcome_service_url",
            "person_sourcedid",
            "result_sourcedid",
        )
    }
}
LTI13_RESOURCE_LINKS = {"id": "", "description": "", "title": ""}

_CONTEXT_SUB_ROLES = {
    "Administrator": [
        "Administrator",
        "Developer",
        "ExternalDeveloper",
        "ExternalSupport",
        "ExternalSystemAdministrator",
        "Support",
        "SystemAdministrator",
    ],
    "ContentDeveloper": [
        "ContentDeveloper",
        "ContentExpert",
        "ExternalContentExpert",
        "Librarian",
    ],
    "Instructor": [
        "ExternalInstructor",
        "Grader",
        "GuestInstructor",
        "Lecturer",
        "PrimaryInstructor",
        "SecondaryInstructor",
        "TeachingAssistant",
        "TeachingAssistantGroup",
        "TeachingAssistantOffering",
        "TeachingAssistantSection",
        "TeachingAssistantSectionAssociation",
        "TeachingAssistantTemplate",
    ],
    "Learner": ["ExternalLearner", "GuestLearner", "Instructor", "Learner", "NonCreditLearner"],
    "Manager": ["AreaManager", "CourseCoordinator", "ExternalObserver", "Manager", "Observer"],
    "Member": ["Member"],
    "Mentor": [
        "Advisor",
        "Auditor",
        "ExternalAdvisor",
        "ExternalAuditor",
        "ExternalLearningFacilitator",
        "ExternalMentor",
        "ExternalReviewer",
        "ExternalTutor",
        "LearningFacilitator",
        "Mentor",
        "Reviewer",
        "Tutor",
    ],
    "Officer": ["Chair", "Communications", "Secretary", "Treasurer", "Vice-Chair"],
}


def _sub_roles(*roles: str) -> set:
    return {f"{_MEMBERSHIP}{role}#{sub}" for role in roles for sub in _CONTEXT_SUB_ROLES[role]}


LTI13_ROLE_VOCABULARIES = {
    "SYSTEM_ROLES": {
        "CORE": {_SYSTEM + r for r in ("Administrator", "None")},
        "NON_CORE": {
            _SYSTEM + r for r in ("AccountAdmin", "Creator", "SysAdmin", "SysSupport", "User")
        },
    },
    "INSTITUTION_ROLES": {
        "CORE": {
            _INSTITUTION + r
            for r in ("Administrator", "Faculty", "Guest", "None", "Other", "Staff", "Student")
        },
        "NON_CORE": {
            _INSTITUTION + r
            for r in (
                "Alumni",
                "Instructor",
                "Learner",
                "Member",
                "Mentor",
                "Observer",
                "ProspectiveStudent",
            )
        },
    },
    "CONTEXT_ROLES": {
        "CORE": {
            _MEMBERSHIP + r
            for r in ("Administrator", "ContentDeveloper", "Instructor", "Learner", "Mentor")
        },
        "NON_CORE": {_MEMBERSHIP + r for r in ("Manager", "Member", "Officer")},
        "CONTEXT_SUB_ROLES": _sub_roles(*_CONTEXT_SUB_ROLES),
    },
}
LTI13_ROLES = {
    "STAFF_ROLES": {
        _INSTITUTION + "Administrator",
        _INSTITUTION + "Faculty",
        _MEMBERSHIP + "Administrator",
        _MEMBERSHIP + "ContentDeveloper",
        _MEMBERSHIP + "Manager",
        _SYSTEM + "Administrator",
        _SYSTEM + "None",
    },
    "STUDENT_ROLES": {
        _INSTITUTION + "Learner",
        _INSTITUTION + "ProspectiveStudent",
        _INSTITUTION + "Student",
        _MEMBERSHIP + "Learner",
    }
    | _sub_roles("Learner"),
    "INSTRUCTOR_ROLES": {
        _INSTITUTION + "Instructor",
        _MEMBERSHIP + "Instructor",
        _MEMBERSHIP + "Learner#Instructor",
    }
    | _sub_roles("Instructor"),
}
DEFAULT_ROLE_NAMES_FOR_STUDENT = ["student", "learner"]
DEFAULT_ROLE_NAMES_FOR_INSTRUCTOR = ["instructor", "urn:lti:role:ims/lis/teachingassistant"]
