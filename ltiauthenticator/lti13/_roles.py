"""LTI roles and course context → JupyterHub groups, roles and admin.

Platforms send roles in several spellings; all of them are reduced to *role keys*:

* LIS v2 context roles, full or short: ``http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor``,
  ``Instructor`` → ``Instructor``; sub-roles
  (``…/membership/Instructor#TeachingAssistant``) → ``TeachingAssistant``;
* institution and system roles: ``…/lis/v2/institution/person#Faculty`` →
  ``institution:Faculty``, ``…/lis/v2/system/person#Administrator`` →
  ``system:Administrator``;
* legacy LTI 1.1 names: ``urn:lti:role:ims/lis/Learner`` → ``Learner``,
  ``urn:lti:instrole:ims/lis/Faculty`` → ``institution:Faculty``,
  ``urn:lti:sysrole:ims/lis/Administrator`` → ``system:Administrator``.

Rules map role keys to name templates such as ``{context_label}-instructors``; the
rendered names are sanitised and bounded, as JupyterHub requires.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set

from .constants import CONTEXT_CLAIM, ROLES_CLAIM

_LIS_V2 = "http://purl.imsglobal.org/vocab/lis/v2/"
_LEGACY = {
    "urn:lti:role:ims/lis/": "",
    "urn:lti:instrole:ims/lis/": "institution:",
    "urn:lti:sysrole:ims/lis/": "system:",
}
_TEMPLATE_FIELD = re.compile(r"{(\w+)}")
_NOT_ALLOWED = re.compile(r"[^a-z0-9._~-]+")


def role_key(role: str) -> Optional[str]:
    """The rule key for one role value, or None for values we do not understand."""
    if not isinstance(role, str) or not role.strip():
        return None
    role = role.strip()
    if role.startswith(_LIS_V2):
        path, _, name = role[len(_LIS_V2) :].partition("#")
        if not name:
            return None
        if path.startswith("membership"):
            return name
        if path.startswith("institution"):
            return f"institution:{name}"
        if path.startswith("system"):
            return f"system:{name}"
        return None
    for prefix, scope in _LEGACY.items():
        if role.startswith(prefix):
            name = role[len(prefix) :].rsplit("/", 1)[-1]
            return f"{scope}{name}" if name else None
    if "/" in role or "#" in role or ":" in role:
        return None  # a vocabulary we do not know
    return role  # the short form: a context role


def role_keys(claims: Mapping[str, Any]) -> Set[str]:
    return {key for key in map(role_key, claims.get(ROLES_CLAIM) or []) if key}


def sanitize_name(name: str, max_length: int) -> str:
    """A JupyterHub-safe group or role name: lowercase ``[a-z0-9._~-]``, bounded.

    Too-long names keep a short hash of the full name so distinct courses stay distinct.
    """
    cleaned = re.sub(r"-{2,}", "-", _NOT_ALLOWED.sub("-", name.lower())).strip("-._~")
    if len(cleaned) > max_length:
        suffix = hashlib.sha256(cleaned.encode()).hexdigest()[:8]
        cleaned = cleaned[: max_length - 9].rstrip("-._~") + "-" + suffix
    if cleaned and not cleaned[0].isalpha():
        cleaned = ("x" + cleaned)[:max_length]
    return cleaned


def course_key(platform: str, context_id: str) -> str:
    """The stable key of a course: the platform's short name, then its ``context_id``.

    Context ids are unique within a platform and never change; the id keeps its own
    spelling where it is already name-safe, else a short hash of the original is added
    so that ids differing only in case or punctuation stay apart.
    """
    cleaned = _NOT_ALLOWED.sub("-", context_id.lower()).strip("-") or "course"
    key = f"{platform}-{cleaned}" if platform else cleaned
    if cleaned != context_id:
        key += "-" + hashlib.sha256(context_id.encode("utf-8")).hexdigest()[:6]
    return key


def template_fields(claims: Mapping[str, Any], platform: str = "") -> Dict[str, str]:
    """Values a rule template may use; absent context fields are simply not offered.

    ``platform`` is the short name of the registration the launch was verified
    against; with the ``context_id`` it makes ``{course}``, the key groups should use.
    """
    context = claims.get(CONTEXT_CLAIM)
    fields: Dict[str, str] = {"platform": platform} if platform else {}
    if isinstance(context, Mapping):
        for name in ("id", "label", "title"):
            value = context.get(name)
            if isinstance(value, str) and value.strip():
                fields[f"context_{name}"] = value.strip()
    if "context_id" in fields:
        fields["course"] = course_key(platform, fields["context_id"])
    return fields


def render(template: str, fields: Mapping[str, str], max_length: int) -> Optional[str]:
    """Fill ``template``; None when it needs a field this launch lacks (no course, say)."""
    if any(name not in fields for name in _TEMPLATE_FIELD.findall(template)):
        return None
    name = sanitize_name(template.format(**fields), max_length)
    return name or None


def names_for_roles(
    claims: Mapping[str, Any],
    rules: Mapping[str, Iterable[str]],
    max_length: int,
    fields: Optional[Mapping[str, str]] = None,
) -> List[str]:
    """Every name the rules give this launch's roles, sorted and without duplicates."""
    keys = role_keys(claims)
    fields = template_fields(claims) if fields is None else fields
    names = set()
    for key, templates in rules.items():
        if key in keys:
            for template in [templates] if isinstance(templates, str) else templates:
                name = render(template, fields, max_length)
                if name:
                    names.add(name)
    return sorted(names)


def render_scope(template: str, fields: Mapping[str, str], max_length: int) -> Optional[str]:
    """Fill a scope template; only the filter value (after ``!…=``) is sanitised."""
    scope, bang, target = template.partition("!")
    if not bang:
        return template if not _TEMPLATE_FIELD.search(template) else None
    kind, equals, value = target.partition("=")
    rendered = render(value, fields, max_length) if equals else None
    return f"{scope}!{kind}={rendered}" if rendered else None


def has_any_role(claims: Mapping[str, Any], wanted: Iterable[str]) -> bool:
    return bool(role_keys(claims) & set(wanted))
