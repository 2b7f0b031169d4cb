"""The example configurations in examples/ load, configure the authenticator and pass its checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml  # noqa: E402 - pyyaml is in the test extra
from traitlets.config import Config, PyFileConfigLoader

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.validator import LTI13LaunchValidator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_python_config(name: str) -> Config:
    return PyFileConfigLoader(name, path=str(EXAMPLES)).load_config()


def load_helm_values(name: str) -> Config:
    """What zero-to-jupyterhub does with ``hub.config``: ``c[Class][trait] = value``."""
    values = yaml.safe_load((EXAMPLES / name).read_text())
    config = Config()
    for cls, traits in values["hub"]["config"].items():
        for trait, value in traits.items():
            config[cls][trait] = value
    return config


def test_minimal_config() -> None:
    config = load_python_config("jupyterhub_config.py")
    assert config.JupyterHub.authenticator_class == "lti13"
    authenticator = LTI13Authenticator(config=config)
    assert authenticator.issuer == "https://canvas.instructure.com"
    assert authenticator.client_id == {"125900000000000329"}
    assert authenticator.authorize_url.startswith("https://sso.canvaslms.com/")
    assert authenticator.jwks_endpoint.startswith("https://sso.canvaslms.com/")
    assert authenticator.username_key == "email"
    assert authenticator.enable_auth_state is True
    assert authenticator.allow_all is True
    assert authenticator.configuration_problems() == []


def test_multiple_platforms_config() -> None:
    authenticator = LTI13Authenticator(config=load_python_config("multiple_platforms_config.py"))
    assert authenticator.issuer == ""
    names = [entry["name"] for entry in authenticator.platforms]
    assert names == ["canvas", "moodle", "open-edx"]
    assert authenticator.configuration_problems() == []
    registrations = authenticator.registry.registrations
    assert len(registrations) == 3
    by_issuer = {r.issuer: r for r in registrations}
    assert by_issuer["https://canvas.instructure.com"].deployment_ids
    assert by_issuer["https://moodle.example.edu"].username_key == "custom_username"
    open_edx = by_issuer["https://lms.example.org"]
    # Open edX: one client id per component; its keyset URL ends in another UUID
    assert len(open_edx.client_ids) == 1
    assert not any(open_edx.jwks_endpoint.endswith(cid) for cid in open_edx.client_ids)


def test_helm_values() -> None:
    config = load_helm_values("helm-values.yaml")
    assert config.JupyterHub.authenticator_class == "lti13"
    authenticator = LTI13Authenticator(config=config)
    assert authenticator.issuer == "https://canvas.instructure.com"
    assert authenticator.client_id == {"125900000000000329"}
    assert authenticator.authorize_url == "https://sso.canvaslms.com/api/lti/authorize_redirect"
    assert authenticator.jwks_endpoint == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert authenticator.username_key == "email"
    assert authenticator.enable_auth_state is True
    assert authenticator.configuration_problems() == []
    validator = authenticator.validator
    assert isinstance(validator, LTI13LaunchValidator)
    assert validator.time_leeway == 5


def test_helm_values_match_the_python_example() -> None:
    """The two single-LMS examples describe the same registration."""
    python = LTI13Authenticator(config=load_python_config("jupyterhub_config.py"))
    helm = LTI13Authenticator(config=load_helm_values("helm-values.yaml"))
    for trait in ("issuer", "client_id", "authorize_url", "jwks_endpoint", "username_key"):
        assert getattr(python, trait) == getattr(helm, trait), trait


def test_spawner_hook_reads_course_and_roles_from_auth_state() -> None:
    """The example hook, on a real spawner, with the claims a launch stores in auth_state."""
    from jupyterhub.spawner import SimpleLocalProcessSpawner

    from ltiauthenticator.platform_emulator import EmulatedPlatform, Launch, ToolRegistration

    hook = load_python_config("course_environment_config.py").Spawner.auth_state_hook
    tool = ToolRegistration("tool", "https://hub/login", ["https://hub/cb"], "https://hub/hub/")
    platform = EmulatedPlatform("https://lms.example.edu", tool)

    instructor = SimpleLocalProcessSpawner()
    hook(instructor, platform.claims_for(Launch(role="instructor"), "nonce"))
    assert instructor.environment["LTI_COURSE_LABEL"] == "DATA101"
    assert instructor.environment["LTI_IS_INSTRUCTOR"] == "1"
    assert instructor.default_url == "/lab/tree/DATA101"

    student = SimpleLocalProcessSpawner()
    other_course = {"id": "p2", "label": "PHYS201", "title": "Physics"}
    hook(student, platform.claims_for(Launch(role="student", course=other_course), "nonce"))
    assert student.environment["LTI_IS_INSTRUCTOR"] == "0"
    assert student.default_url == "/lab/tree/PHYS201"

    untouched = SimpleLocalProcessSpawner()
    hook(untouched, None)
    assert untouched.environment == {} and untouched.default_url == ""


def test_helm_values_for_several_platforms_with_course_roles() -> None:
    from ltiauthenticator.lti13 import constants as c

    config = load_helm_values("helm-values-multiple-platforms.yaml")
    authenticator = LTI13Authenticator(config=config)
    assert authenticator.configuration_problems() == []
    assert authenticator.manage_groups is True
    canvas, moodle = authenticator.registry.registrations
    assert canvas.deployment_ids == {"1234:0123456789abcdef0123456789abcdef01234567"}
    assert moodle.username_key == "custom_username"
    assert authenticator.registry.find("https://moodle.example.edu", None) is moodle

    instructor_launch = {
        "iss": "https://canvas.instructure.com",
        "aud": "125900000000000329",
        "email": "ada@example.edu",
        c.ROLES_CLAIM: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
        c.CONTEXT_CLAIM: {"id": "c-1", "label": "DATA101"},
    }
    model = asyncio.run(authenticator.authenticate(None, instructor_launch))
    # keyed on the registration (its name) and the course's context_id, not on the label
    assert model["groups"] == ["canvas-c-1-instructors"]
    assert {"name": "user"} in model["roles"]
    (course_role,) = [r for r in model["roles"] if r["name"] != "user"]
    assert course_role["name"] == "lti-instructor-canvas-c-1"
    assert "access:servers!group=canvas-c-1-learners" in course_role["scopes"]
    assert "admin" not in model or model["admin"] is False
