# One hub trusted by several LMSs: LTI13Authenticator.platforms lists the registrations.
c = get_config()  # noqa

c.JupyterHub.authenticator_class = "lti13"
c.Authenticator.enable_auth_state = True

c.LTI13Authenticator.platforms = [
    {
        # Canvas cloud uses one issuer for every customer, so a deployment allowlist is
        # what keeps launches from other institutions' installs out.
        "name": "canvas",
        "issuer": "https://canvas.instructure.com",
        "client_id": "125900000000000329",
        "authorize_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "jwks_endpoint": "https://sso.canvaslms.com/api/lti/security/jwks",
        "deployment_ids": ["1234:0123456789abcdef0123456789abcdef01234567"],
    },
    {
        "name": "moodle",
        "issuer": "https://moodle.example.edu",
        "client_id": "Xk3dPq9sLm2vTz7",
        "authorize_url": "https://moodle.example.edu/mod/lti/auth.php",
        "jwks_endpoint": "https://moodle.example.edu/mod/lti/certs.php",
        # Moodle sends the login name only as a custom parameter you define:
        # `username=$User.username` in the tool's "Custom parameters".
        "username_key": "custom_username",
    },
    {
        # Open edX issues one client id per course component: list them all.
        "name": "open-edx",
        "issuer": "https://lms.example.org",
        "client_id": [
            "0f9a6a3e-7b9b-4d36-9d43-6f1f6a2b9a10",
            "5c2d1e4f-8a7b-4c6d-9e0f-1a2b3c4d5e6f",
        ],
        "authorize_url": "https://lms.example.org/api/lti_consumer/v1/launch/",
        "jwks_endpoint": "https://lms.example.org/api/lti_consumer/v1/public_keysets/"
        "0f9a6a3e-7b9b-4d36-9d43-6f1f6a2b9a10",
        "username_key": "preferred_username",
    },
]
