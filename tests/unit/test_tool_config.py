"""The tool configuration JSON: a pure function of its inputs."""

from ltiauthenticator.lti13._tool_config import CANVAS_PLATFORM, tool_configuration

ARGS = dict(
    title="Notebooks",
    description="Jupyter for the course",
    oidc_initiation_url="https://hub.example/hub/lti13/oauth_login",
    target_link_uri="https://hub.example/hub/",
)


def test_canvas_can_install_a_developer_key_from_it():
    document = tool_configuration(**ARGS)
    assert {k: document[k] for k in ARGS} == ARGS
    assert document["scopes"] == []
    assert "public_jwk_url" not in document
    (extension,) = document["extensions"]
    assert extension["platform"] == CANVAS_PLATFORM == "canvas.instructure.com"
    assert extension["settings"]["platform"] == CANVAS_PLATFORM
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    # the established plugin's two resource-link placements, and deep linking from modules
    assert list(placements) == ["course_navigation", "assignment_selection", "link_selection"]
    for name in ("course_navigation", "assignment_selection"):
        assert placements[name]["message_type"] == "LtiResourceLinkRequest"
    assert placements["link_selection"]["message_type"] == "LtiDeepLinkingRequest"
    assert all(p["target_link_uri"] == ARGS["target_link_uri"] for p in placements.values())
    # course navigation opens in a new tab, with its custom fields (as in 1.6.3)
    assert placements["course_navigation"]["windowTarget"] == "_blank"
    assert placements["course_navigation"]["custom_fields"] == document["custom_fields"]
    assert "windowTarget" not in placements["assignment_selection"]
    assert extension["privacy_level"] == "public"
    assert document["custom_fields"] == {
        "email": "$Person.email.primary",
        "lms_user_id": "$User.id",
    }


def test_public_jwk_url_only_when_given():
    url = "https://hub.example/hub/lti13/jwks"
    assert tool_configuration(**ARGS, public_jwk_url=url)["public_jwk_url"] == url
    assert "public_jwk_url" not in tool_configuration(**ARGS, public_jwk_url="")


def test_documents_do_not_share_state():
    first = tool_configuration(**ARGS)
    first["extensions"][0]["settings"]["placements"].clear()
    assert len(tool_configuration(**ARGS)["extensions"][0]["settings"]["placements"]) == 3
