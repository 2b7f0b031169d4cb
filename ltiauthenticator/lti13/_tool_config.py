"""The tool configuration JSON served at ``/lti13/config``.

Canvas can install a developer key from this URL ("Enter URL"); other platforms show
the same fields in their registration forms. A pure function of its inputs.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

CANVAS_PLATFORM = "canvas.instructure.com"


def tool_configuration(
    *,
    title: str,
    description: str,
    oidc_initiation_url: str,
    target_link_uri: str,
    public_jwk_url: Optional[str] = None,
) -> Dict[str, Any]:
    placements = [
        {
            "placement": placement,
            "message_type": "LtiResourceLinkRequest",
            "target_link_uri": target_link_uri,
        }
        for placement in ("course_navigation", "assignment_selection")
    ]
    document: Dict[str, Any] = {
        "title": title,
        "description": description,
        "oidc_initiation_url": oidc_initiation_url,
        "target_link_uri": target_link_uri,
        "scopes": [],
        "extensions": [
            {
                "platform": CANVAS_PLATFORM,
                "privacy_level": "public",
                "settings": {"platform": CANVAS_PLATFORM, "placements": placements},
            }
        ],
        "custom_fields": {"email": "$Person.email.primary", "lms_user_id": "$User.id"},
    }
    if public_jwk_url:
        document["public_jwk_url"] = public_jwk_url
    return document
