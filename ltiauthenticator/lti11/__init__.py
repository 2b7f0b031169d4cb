"""LTI 1.1 (OAuth 1.0a signed launches) for JupyterHub, as in jupyterhub-ltiauthenticator 1.6.3."""
