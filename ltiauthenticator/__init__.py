"""JupyterHub authenticator for LTI 1.3 launches."""

__version__ = "2.0.0.dev0"
