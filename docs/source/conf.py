"""Sphinx configuration for the jupyterhub-ltiauthenticator documentation."""

from __future__ import annotations

import datetime

import ltiauthenticator

project = "jupyterhub-ltiauthenticator"
author = "The jupyterhub-ltiauthenticator developers"
copyright = f"{datetime.date.today().year}, {author}"  # noqa: A001
version = release = ltiauthenticator.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "autodoc_traits",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3


autodoc_member_order = "bysource"
autodoc_typehints = "none"

# Every reference to JupyterHub, traitlets or tornado resolves or is plain text: nothing of
# theirs is silenced. (intersphinx would link them, but CI builds the docs offline, and a
# failed inventory fetch is a warning, which -W turns into a failure.)
nitpick_ignore_regex = [
    (r"py:meth", r"(Authenticator\.)?(check_allowed|refresh_user)"),
    (r"py:attr", r"refresh_pre_(spawn|stop)"),
    # Internal (underscore) modules are deliberately left out of the docs.
    (r"py:.*", r"(.*\.)?_[a-z]\w*(\..*)?"),
]

html_theme = "pydata_sphinx_theme"
html_title = "LTI 1.3 Authenticator"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 4,
}
