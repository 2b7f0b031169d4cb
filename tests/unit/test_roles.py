"""LTI roles and course context → group and role names."""

import pytest

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._roles import (
    names_for_roles,
    render_scope,
    role_key,
    sanitize_name,
)

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize(
    ("role", "key"),
    [
        (LIS + "membership#Instructor", "Instructor"),
        (LIS + "membership#Learner", "Learner"),
        (LIS + "membership/Instructor#TeachingAssistant", "TeachingAssistant"),
        (LIS + "institution/person#Faculty", "institution:Faculty"),
        (LIS + "system/person#Administrator", "system:Administrator"),
        ("Instructor", "Instructor"),
        ("Learner", "Learner"),
        ("urn:lti:role:ims/lis/Instructor", "Instructor"),
        ("urn:lti:role:ims/lis/Instructor/TeachingAssistant", "TeachingAssistant"),
        ("urn:lti:instrole:ims/lis/Faculty", "institution:Faculty"),
        ("urn:lti:sysrole:ims/lis/Administrator", "system:Administrator"),
        ("http://example.com/custom#Role", None),
        (LIS + "membership", None),
        ("", None),
    ],
)
def test_role_spellings_reduce_to_one_key(role, key):
    assert role_key(role) == key


def test_sanitized_names_are_safe_lowercase_and_bounded():
    assert sanitize_name("DATA 101 (Fall '26)-Instructors", 64) == "data-101-fall-26-instructors"
    long_a = sanitize_name("x" * 100 + "a", 32)
    long_b = sanitize_name("x" * 100 + "b", 32)
    assert len(long_a) <= 32 and long_a != long_b
    assert sanitize_name("101-learners", 64) == "x101-learners"
    assert sanitize_name("!!!", 64) == ""


RULES = {
    "Instructor": ["{context_label}-instructors", "instructors"],
    "Learner": "{context_label}-learners",
    "system:Administrator": ["hub-admins"],
}


def claims(*roles, context=True):
    result = {c.ROLES_CLAIM: list(roles)}
    if context:
        result[c.CONTEXT_CLAIM] = {"id": "c1", "label": "DATA101", "title": "Data"}
    return result


def test_rules_give_course_groups():
    assert names_for_roles(claims(LIS + "membership#Instructor"), RULES, 64) == [
        "data101-instructors",
        "instructors",
    ]
    assert names_for_roles(claims("Learner"), RULES, 64) == ["data101-learners"]
    assert names_for_roles(claims("urn:lti:sysrole:ims/lis/Administrator"), RULES, 64) == [
        "hub-admins"
    ]


def test_rules_needing_a_course_are_skipped_without_one():
    assert names_for_roles(claims("Instructor", context=False), RULES, 64) == ["instructors"]
    assert names_for_roles(claims(context=False), RULES, 64) == []


def test_scope_templates_sanitise_only_the_filter_value():
    fields = {"context_label": "Data 101"}
    assert render_scope("access:servers!group={context_label}-learners", fields, 64) == (
        "access:servers!group=data-101-learners"
    )
    assert render_scope("read:users", fields, 64) == "read:users"
    assert render_scope("access:servers!group={context_id}", fields, 64) is None
