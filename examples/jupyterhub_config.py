# A minimal jupyterhub_config.py for one LMS (Canvas cloud, Instructure-hosted).
# Replace the client id with the one your LMS shows; see the how-to guide for your LMS.
c = get_config()  # noqa

c.JupyterHub.authenticator_class = "lti13"

# The platform's issuer identifier (shared by every Canvas cloud customer).
c.LTI13Authenticator.issuer = "https://canvas.instructure.com"

# Where the hub sends the browser to get a signed launch (id_token).
c.LTI13Authenticator.authorize_url = "https://sso.canvaslms.com/api/lti/authorize_redirect"

# The platform's public keys, used to verify the id_token's signature.
c.LTI13Authenticator.jwks_endpoint = "https://sso.canvaslms.com/api/lti/security/jwks"

# The client id(s) the LMS issued for this tool (a Canvas developer key id).
c.LTI13Authenticator.client_id = ["125900000000000329"]

# The claim that becomes the JupyterHub username (falls back to `sub` when missing).
c.LTI13Authenticator.username_key = "email"

# Keep the launch claims (course, roles, ...) for spawners and course tooling.
# Needs the JUPYTERHUB_CRYPT_KEY environment variable (`openssl rand -hex 32`).
c.Authenticator.enable_auth_state = True

# A spawner that needs no Unix account per user: JupyterHub's default spawner does, and an
# e-mail username has none (the first launch would end in HTTP 500). "simple" runs every
# user's JupyterLab as the hub's own OS user, without isolation: for a trial only. In
# production use DockerSpawner or KubeSpawner (see the install page in the docs).
c.JupyterHub.spawner_class = "simple"
c.Spawner.default_url = "/lab"
