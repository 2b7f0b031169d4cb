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
        # Each platform has its own username namespace, so a Moodle user whose email is a
        # Canvas admin's cannot become that admin. The first platform may keep plain names.
        "username_prefix": "",
    },
    {
        "name": "moodle",
        "issuer": "https://moodle.example.edu",
        "client_id": "Xk3dPq9sLm2vTz7",
        "authorize_url": "https://moodle.example.edu/mod/lti/auth.php",
        "jwks_endpoint": "https://moodle.example.edu/mod/lti/certs.php",
        # Moodle's login name, from a custom parameter you define in the tool:
        # `username=$User.username` (Moodle also sends it as "ext.user_username" when the
        # tool may see names).
        "username_key": "custom_username",
        "username_prefix": "moodle-",
    },
    {
        # Open edX gives each LTI component its own client id and its own key set: one
        # entry per component (entries sharing an issuer need distinct names). The keyset
        # URL ends in the component's configuration id, a UUID other than its client id:
        # copy both from the component's preview in Studio.
        "name": "open-edx",
        "issuer": "https://lms.example.org",
        "client_id": "0f9a6a3e-7b9b-4d36-9d43-6f1f6a2b9a10",
        "authorize_url": "https://lms.example.org/api/lti_consumer/v1/launch/",
        "jwks_endpoint": "https://lms.example.org/api/lti_consumer/v1/public_keysets/"
        "b7e4c2d9-3f1a-4e8b-a6c5-92d0f3e1b4a7",
        "username_key": "preferred_username",
        "username_prefix": "edx-",
    },
]
