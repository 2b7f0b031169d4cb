"""LTI 1.3 (OpenID Connect third-party initiated login) for JupyterHub."""
