"""Complete launches from the platform emulator through a real JupyterHub."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13.handlers import NONCE_STATE_COOKIE_NAME, STATE_COOKIE_NAME
from ltiauthenticator.platform_emulator import Launch


def test_resource_link_launch_logs_the_user_in_with_claims_in_auth_state(
    hub, emulator, client, user
):
    launch, url = emulator.start_launch(user=user, role="instructor")

    result = client.launch(url)

    assert result.callback.status_code == 302, result.callback.text[-800:]
    assert client.hub_path(result.callback) == "/hub/spawn"
    model = hub.user(f"{user}@example.edu")
    assert model is not None
    claims = model["auth_state"]
    assert claims["sub"] == f"sub-{user}"
    assert claims[c.MESSAGE_TYPE_CLAIM] == c.RESOURCE_LINK_REQUEST
    assert claims[c.CONTEXT_CLAIM]["label"] == "DATA101"
    assert c.ROLES_CLAIM in claims and "membership#Instructor" in claims[c.ROLES_CLAIM][0]
    # the launch cookies are cleared, the hub's login cookie is set
    assert "jupyterhub-hub-login" in client.session.cookies
    assert STATE_COOKIE_NAME not in client.session.cookies
    assert NONCE_STATE_COOKIE_NAME not in client.session.cookies
    # the hub's session works: the user is logged in
    me = client.session.get(hub.url + "/hub/api/user", timeout=10)
    assert me.status_code == 200 and me.json()["name"] == f"{user}@example.edu"


def test_login_initiation_by_form_post(hub, emulator, client, user):
    _, url = emulator.start_launch(user=user)
    result = client.launch(url, method="POST")
    assert result.callback.status_code == 302
    assert hub.user(f"{user}@example.edu") is not None


def test_authorization_redirect_carries_what_the_platform_requires(hub, emulator, client, user):
    launch, url = emulator.start_launch(user=user)
    response = client.login_initiation(url)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == emulator.authorize_url
    assert params["response_type"] == "id_token"
    assert params["scope"] == "openid"
    assert params["response_mode"] == "form_post"
    assert params["prompt"] == "none"
    assert params["client_id"] == emulator.tool.client_id
    assert params["redirect_uri"] == f"{hub.url}/hub/lti13/oauth_callback"
    assert params["login_hint"] == launch.login_hint
    assert params["lti_message_hint"] == launch.id  # round trip, unchanged
    assert len(params["nonce"]) == 64 and params["state"]
    cookies = response.headers.get("Set-Cookie", "")
    assert STATE_COOKIE_NAME in cookies and NONCE_STATE_COOKIE_NAME in cookies
    assert "HttpOnly" in cookies and "Path=/hub/lti13/" in cookies


def test_deep_linking_launch_needs_only_the_claims_deep_linking_requires(
    hub, emulator, client, user
):
    _, url = emulator.start_launch(
        Launch(
            user=user,
            role="instructor",
            message_type=c.DEEP_LINKING_REQUEST,
            course=None,
            # optional claims a real platform may omit
            claims={
                c.TOOL_PLATFORM_CLAIM: None,
                c.TARGET_LINK_URI_CLAIM: None,
                c.ROLES_CLAIM: None,
                c.LAUNCH_PRESENTATION_CLAIM: None,
            },
        )
    )
    result = client.launch(url)
    assert result.callback.status_code == 302, result.callback.text[-800:]
    claims = hub.user(f"{user}@example.edu")["auth_state"]
    assert claims[c.MESSAGE_TYPE_CLAIM] == c.DEEP_LINKING_REQUEST


def test_config_json_for_canvas(hub, client):
    response = client.session.get(hub.url + "/hub/lti13/config", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["title"] == "JupyterHub"
    assert document["description"] == "Launch interactive Jupyter Notebooks with JupyterHub"
    assert document["oidc_initiation_url"] == hub.url + "/hub/lti13/oauth_login"
    assert document["target_link_uri"] == hub.url + "/hub/"
    assert document["scopes"] == []
    assert document["custom_fields"] == {
        "email": "$Person.email.primary",
        "lms_user_id": "$User.id",
    }
    (canvas,) = document["extensions"]
    assert canvas["platform"] == "canvas.instructure.com"
    assert canvas["privacy_level"] == "public"
    placements = {p["placement"]: p for p in canvas["settings"]["placements"]}
    assert set(placements) == {"course_navigation", "assignment_selection", "link_selection"}
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    assert placements["link_selection"]["message_type"] == "LtiDeepLinkingRequest"


def test_config_json_honours_uri_scheme_and_tool_name(hub_with, client):
    hub = hub_with(
        LTI13Authenticator={
            "uri_scheme": "HTTPS",
            "tool_name": "Notebooks",
            "tool_description": "d",
        }
    )
    document = client.session.get(hub.url + "/hub/lti13/config", timeout=10).json()
    assert document["title"] == "Notebooks" and document["description"] == "d"
    assert document["oidc_initiation_url"].startswith("https://127.0.0.1:")


def test_config_json_scheme_from_forwarded_proto(hub, client):
    response = client.session.get(
        hub.url + "/hub/lti13/config", headers={"X-Forwarded-Proto": "https, http"}, timeout=10
    )
    assert response.json()["oidc_initiation_url"].startswith("https://")


def test_allow_iframe_needs_a_hub_of_its_own_and_launches_into_it(hub_with, emulator, client, user):
    """``allow_iframe`` changes the hub's application at start-up: ``hub_with`` starts a
    hub process for it (once per session), and the emulator launches into that hub."""
    hub = hub_with(LTI13Authenticator={"allow_iframe": True, "frame_origins": [emulator.url]})
    page = client.session.get(hub.url + "/hub/login", timeout=10)
    assert page.headers["Content-Security-Policy"].startswith(
        f"frame-ancestors 'self' {emulator.url}"
    )
    _, url = emulator.start_launch(user=user)
    assert url.startswith(hub.url + "/hub/lti13/oauth_login?")
    result = client.launch(url)
    assert result.callback.status_code == 302, result.callback.text[-800:]
    assert hub.user(f"{user}@example.edu") is not None
    assert "302 POST /hub/lti13/oauth_callback" in hub.log_text()
