"""LTI 1.1 launch parameter names (the lists the 1.6.3 plugin exported, same names).

Sources: the LTI 1.1.1 implementation guide,
https://www.imsglobal.org/specs/ltiv1p1p1/implementation-guide (section 4 lists the launch
parameters). ``user_id`` is only "recommended" there; it is required here because it is
the username of last resort.
"""

from __future__ import annotations

from typing import List

#: The LTI (not OAuth) arguments a launch must carry, each with a value.
LTI11_LTI_ARGS_REQUIRED: List[str] = [
    "lti_message_type",
    "lti_version",
    "resource_link_id",
    "user_id",
]

LTI11_LAUNCH_PARAMS_RECOMMENDED: List[str] = [
    "resource_link_title",
    "roles",
    "lis_person_name_given",
    "lis_person_name_family",
    "lis_person_name_full",
    "lis_person_contact_email_primary",
    "context_id",
    "context_title",
    "context_label",
    "launch_presentation_locale",
    "launch_presentation_document_target",
    "launch_presentation_width",
    "launch_presentation_height",
    "launch_presentation_return_url",
    "tool_consumer_info_product_family_code",
    "tool_consumer_info_version",
    "tool_consumer_instance_guid",
    "tool_consumer_instance_name",
    "tool_consumer_instance_contact_email",
]

LTI11_LAUNCH_PARAMS_OPTIONAL: List[str] = [
    "resource_link_description",
    "user_image",
    "role_scope_mentor",
    "context_type",
    "launch_presentation_css_url",
    "tool_consumer_instance_description",
    "tool_consumer_instance_url",
]
#: The 1.6.3 spelling (with its typo), kept so imports of it keep working.
LTI11_LAUNCH_PARAMS_OTIONAL = LTI11_LAUNCH_PARAMS_OPTIONAL

LTI11_LIS_OPTION: List[str] = [
    "lis_outcome_service_url",
    "lis_result_sourcedid",
    "lis_person_sourcedid",
    "lis_course_offering_sourcedid",
    "lis_course_section_sourcedid",
]

#: OAuth 1.0a arguments every launch must carry, each with a value. ``oauth_callback`` is
#: left out on purpose: some consumers omit it, and adding a default value for it would
#: change the signed base string.
LTI11_OAUTH_ARGS: List[str] = [
    "oauth_consumer_key",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_version",
    "oauth_signature",
]

#: Every required argument, LTI and OAuth (the 1.6.3 name, with the same value).
LTI11_LAUNCH_PARAMS_REQUIRED: List[str] = LTI11_LTI_ARGS_REQUIRED + LTI11_OAUTH_ARGS

LTI11_LAUNCH_PARAMS_ALL: List[str] = (
    LTI11_LAUNCH_PARAMS_REQUIRED + LTI11_LAUNCH_PARAMS_RECOMMENDED + LTI11_LAUNCH_PARAMS_OPTIONAL
)

#: The only signature method LTI 1.1 uses.
SIGNATURE_METHOD = "HMAC-SHA1"
#: Seconds an ``oauth_timestamp`` may differ from the hub's clock (either way).
TIMESTAMP_WINDOW = 30
