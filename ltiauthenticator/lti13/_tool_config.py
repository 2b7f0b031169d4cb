"""The tool configuration JSON served at ``/lti13/config``.

Canvas can install a developer key from this URL ("Enter URL"); other platforms show
the same fields in their registration forms. A pure function of its inputs.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from .constants import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST

CANVAS_PLATFORM = "canvas.instructure.com"
CUSTOM_FIELDS = {"email": "$Person.email.primary", "lms_user_id": "$User.id"}


def tool_configuration(
    *,
    title: str,
    description: str,
    oidc_initiation_url: str,
    target_link_uri: str,
    public_jwk_url: Optional[str] = None,
    scopes: Sequence[str] = (),
) -> Dict[str, Any]:
    """The document Canvas installs a developer key from.

    ``scopes`` lists only the LTI Advantage services the hub uses (the grade and roster
    ones when ``enable_grades`` is on, else none): a developer key granting more than a
    tool uses is a needless risk.
    """
    # Course navigation opens in a new tab, as in the established plugin: the launch cookies
    # are then first-party, and the hub has the whole window.
    placements = [
        {
            "placement": "course_navigation",
            "message_type": RESOURCE_LINK_REQUEST,
            "windowTarget": "_blank",
            "target_link_uri": target_link_uri,
            "custom_fields": dict(CUSTOM_FIELDS),
        },
        {
            "placement": "assignment_selection",
            "message_type": RESOURCE_LINK_REQUEST,
            "target_link_uri": target_link_uri,
        },
        # Modules → Add item → External Tool: an instructor picks the notebook or
        # nbgitpuller link in the hub's deep-linking picker.
        {
            "placement": "link_selection",
            "message_type": DEEP_LINKING_REQUEST,
            "target_link_uri": target_link_uri,
        },
    ]
    document: Dict[str, Any] = {
        "title": title,
        "description": description,
        "oidc_initiation_url": oidc_initiation_url,
        "target_link_uri": target_link_uri,
        "scopes": list(scopes),
        "extensions": [
            {
                "platform": CANVAS_PLATFORM,
                "privacy_level": "public",
                "settings": {"platform": CANVAS_PLATFORM, "placements": placements},
            }
        ],
        "custom_fields": dict(CUSTOM_FIELDS),
    }
    if public_jwk_url:
        document["public_jwk_url"] = public_jwk_url
    return document
