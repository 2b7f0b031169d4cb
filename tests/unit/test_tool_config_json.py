"""The Canvas configuration JSON: the established plugin's placements, our key URL."""

from ltiauthenticator.lti13._tool_config import tool_configuration


def document():
    return tool_configuration(
        title="JupyterHub",
        description="Notebooks",
        oidc_initiation_url="https://hub.example/hub/lti13/oauth_login",
        target_link_uri="https://hub.example/hub/",
        public_jwk_url="https://hub.example/hub/lti13/jwks",
    )


def test_course_navigation_opens_in_a_new_tab_with_its_custom_fields():
    (canvas,) = document()["extensions"]
    placements = {p["placement"]: p for p in canvas["settings"]["placements"]}
    assert placements["course_navigation"]["windowTarget"] == "_blank"
    assert placements["course_navigation"]["custom_fields"] == {
        "email": "$Person.email.primary",
        "lms_user_id": "$User.id",
    }
    assert "windowTarget" not in placements["assignment_selection"]
    assert canvas["privacy_level"] == "public"


def test_only_scopes_the_hub_uses_and_the_tool_key_url():
    doc = document()
    assert doc["scopes"] == []
    assert doc["public_jwk_url"] == "https://hub.example/hub/lti13/jwks"
    assert doc["target_link_uri"] == "https://hub.example/hub/"
