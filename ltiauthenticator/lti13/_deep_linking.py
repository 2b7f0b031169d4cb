"""LTI Deep Linking 2.0: what the picker offers and the signed answer it sends back.

A deep-linking launch (``LtiDeepLinkingRequest``) asks the tool to pick content; the
tool answers with an ``LtiDeepLinkingResponse`` JWT, signed with the tool key, that the
browser posts (form field ``JWT``) to the platform's ``deep_link_return_url``. Spec:
https://www.imsglobal.org/spec/lti-dl/v2p0.

Everything here is pure (no I/O): the settings read from the launch, the picker's
choices turned into content items, the checks that refuse what the platform said it
will not accept, the response claims, and the single-use picker sessions.

Each content item is an ``ltiResourceLink`` whose ``url`` is this hub's launch URL
with the destination as ``next`` (``https://hub/hub/?next=/hub/user-redirect/…``):
when the platform later launches the link, ``target_link_uri`` is that URL, and the
callback takes the next URL from that *signed* claim. The destination is also in
``custom.next`` for platforms or tools that look there.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence
from urllib.parse import quote, urlencode, urlsplit

from . import constants as c
from ._state import ExpiringEntries, sanitize_next_url
from .error import BusyError, IncorrectValueError

DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
CONTENT_ITEMS_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "content_items"
DATA_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "data"
MSG_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "msg"
LOG_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "log"
ERRORMSG_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "errormsg"
ERRORLOG_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "errorlog"
RESOURCE_LINK = "ltiResourceLink"

#: How long a signed response stays acceptable to the platform (pylti1p3 uses 600 s).
RESPONSE_LIFETIME = 600
#: How long a picker page can wait for the instructor's choice.
PICKER_TTL = 30 * 60

#: The UIs an nbgitpuller link can open, and the server path each opens a file under.
NBGITPULLER_UIS = {"lab": "lab/tree/", "notebook": "tree/"}

MAX_TEXT = 1024
MAX_TITLE = 255
MAX_CUSTOM = 20
#: Links one picker may send at once.
MAX_ITEMS = 20
_CUSTOM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# git ref names: no spaces, control characters, "..", "~^:?*[\"; kept simple and strict
_BRANCH = re.compile(r"^[A-Za-z0-9._/+-]{1,255}$")


class PickerInputError(IncorrectValueError):
    """A field of the picker form cannot be used; the message says which and why."""

    reason = "deep_linking_input"
    title = "The link could not be created"


# -- the request's settings ------------------------------------------------------------------


@dataclass(frozen=True)
class DeepLinkingSettings:
    """The ``deep_linking_settings`` claim of the launch, read defensively."""

    return_url: str
    accept_types: Sequence[str] = ()
    accept_presentation_document_targets: Sequence[str] = ()
    accept_multiple: bool = False
    accept_lineitem: bool = False
    auto_create: bool = False
    title: str = ""
    text: str = ""
    #: Opaque value to echo back unchanged; absent when the platform sent none.
    data: Any = None
    has_data: bool = False

    @property
    def accept_presentation_targets(self) -> Sequence[str]:
        return self.accept_presentation_document_targets

    @property
    def accepts_links(self) -> bool:
        return RESOURCE_LINK in self.accept_types


def settings_from_claims(claims: Mapping[str, Any]) -> DeepLinkingSettings:
    """The deep linking settings of verified launch claims (checked by ``_claims``)."""
    raw = claims.get(c.DEEP_LINKING_SETTINGS_CLAIM) or {}

    def strings(name: str) -> List[str]:
        value = raw.get(name)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def text(name: str) -> str:
        value = raw.get(name)
        return value if isinstance(value, str) else ""

    return DeepLinkingSettings(
        return_url=text("deep_link_return_url"),
        accept_types=strings("accept_types"),
        accept_presentation_document_targets=strings("accept_presentation_document_targets"),
        accept_multiple=raw.get("accept_multiple") is True,
        accept_lineitem=raw.get("accept_lineitem") is True,
        auto_create=raw.get("auto_create") is True,
        title=text("title"),
        text=text("text"),
        data=raw.get("data"),
        has_data="data" in raw,
    )


def check_return_url(settings: DeepLinkingSettings) -> None:
    """The return URL becomes a form's action on a hub page: http(s) only, never
    ``javascript:`` or ``data:``, whatever the (signed) claim says."""
    parts = urlsplit(settings.return_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise IncorrectValueError(
            "The platform's deep_link_return_url is not an http(s) URL.",
            reason="deep_linking_return_url",
        )


def our_client_id(claims: Mapping[str, Any], client_ids: Sequence[str]) -> str:
    """The client id the launch was issued to (``azp``, else the ``aud`` that is ours)."""
    azp = claims.get("azp")
    if isinstance(azp, str) and azp in client_ids:
        return azp
    aud = claims.get("aud")
    for value in [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []:
        if value in client_ids:
            return value
    raise IncorrectValueError("The launch names none of this hub's client ids.")


# -- destinations ----------------------------------------------------------------------------


def _server_path(path: str, what: str) -> str:
    """A relative path inside the user's server: no scheme, no ``..``, no control chars."""
    path = (path or "").strip().lstrip("/")
    if len(path) > MAX_TEXT:
        raise PickerInputError(f"The {what} is too long (at most {MAX_TEXT} characters).")
    if any(ord(ch) < 32 or ch in "\\\x7f" for ch in path):
        raise PickerInputError(f"The {what} contains characters a path cannot have.")
    if ".." in path.split("/") or "://" in path:
        raise PickerInputError(
            f"The {what} must be a path inside your server, like lab/tree/week1/intro.ipynb."
        )
    return path


def user_redirect(path: str, hub_base_url: str = "/hub/") -> str:
    """The hub path that opens ``path`` in the launching user's own server."""
    return hub_base_url.rstrip("/") + "/user-redirect/" + quote(_server_path(path, "path"), "/")


def nbgitpuller_next(
    repo: str,
    branch: str = "",
    path: str = "",
    ui: str = "lab",
    hub_base_url: str = "/hub/",
    urlpath: str = "",
) -> str:
    """The hub path of an nbgitpuller link: pull ``repo`` then open ``path`` in ``ui``.

    ``urlpath`` (the path nbgitpuller opens after pulling, relative to the server) is
    built from the repository's directory, ``path`` and the UI, unless given.
    """
    repo = (repo or "").strip()
    parts = urlsplit(repo) if repo and not any(ord(ch) < 33 for ch in repo) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise PickerInputError(
            "The repository must be an http(s) URL, like https://github.com/org/course."
        )
    if len(repo) > MAX_TEXT:
        raise PickerInputError(f"The repository URL is too long (at most {MAX_TEXT}).")
    branch = (branch or "").strip()
    if branch and (not _BRANCH.match(branch) or ".." in branch):
        raise PickerInputError("The branch name has characters a git branch cannot have.")
    if ui not in NBGITPULLER_UIS:
        raise PickerInputError(f"The interface must be one of: {', '.join(NBGITPULLER_UIS)}.")
    if urlpath:
        urlpath = _server_path(urlpath, "path to open")
    else:
        # where nbgitpuller clones to: its default targetpath, the URL's last segment
        directory = repo.rstrip("/").split("/")[-1]
        inner = _server_path(path, "file to open")
        prefix = NBGITPULLER_UIS[ui]
        if ui == "notebook" and inner.endswith(".ipynb"):
            prefix = "notebooks/"  # as nbgitpuller itself opens a notebook there
        urlpath = prefix + "/".join(p for p in (directory, inner) if p)
    query = {"repo": repo}
    if branch:
        query["branch"] = branch
    query["urlpath"] = urlpath
    return hub_base_url.rstrip("/") + "/user-redirect/git-pull?" + urlencode(query)


def hub_launch_url(hub_origin: str, hub_base_url: str, next_path: str) -> str:
    """The content item's URL: the hub's launch target, with the destination as ``next``."""
    url = hub_origin.rstrip("/") + hub_base_url
    return url + ("?" + urlencode({"next": next_path}) if next_path else "")


# -- content items --------------------------------------------------------------------------


def _clean_text(value: Any, what: str, limit: int, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise PickerInputError(f"The {what} is required.")
    if len(text) > limit:
        raise PickerInputError(f"The {what} is too long (at most {limit} characters).")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise PickerInputError(f"The {what} contains control characters.")
    return text


def parse_custom(text: str) -> Dict[str, str]:
    """``name=value`` lines → custom parameters (names as LTI custom keys allow)."""
    custom: Dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not _CUSTOM_NAME.match(name):
            raise PickerInputError(
                f"Custom parameter line {number} must look like name=value, with a name "
                "of letters, digits and underscores."
            )
        if name == "next":
            raise PickerInputError("The custom parameter 'next' is set by the hub itself.")
        custom[name] = _clean_text(value, f"value of custom parameter {name!r}", MAX_TEXT)
    if len(custom) > MAX_CUSTOM:
        raise PickerInputError(f"At most {MAX_CUSTOM} custom parameters.")
    return custom


@dataclass(frozen=True)
class LineItem:
    score_maximum: float
    label: str
    resource_id: str = ""
    tag: str = ""

    def claim(self) -> Dict[str, Any]:
        item: Dict[str, Any] = {"scoreMaximum": self.score_maximum, "label": self.label}
        if self.resource_id:
            item["resourceId"] = self.resource_id
        if self.tag:
            item["tag"] = self.tag
        return item


def parse_line_item(form: Mapping[str, str], default_label: str) -> Optional[LineItem]:
    """The gradebook column the form asks for, or None (grading left off)."""
    if form.get("grade") not in ("on", "1", "true"):
        return None
    try:
        maximum = float((form.get("grade_max") or "").strip())
    except ValueError:
        raise PickerInputError("The maximum score must be a number, like 10.") from None
    if not 0 < maximum <= 1_000_000:
        raise PickerInputError("The maximum score must be above 0 (and at most 1000000).")
    label = _clean_text(form.get("grade_label"), "grade label", MAX_TITLE) or default_label
    return LineItem(
        score_maximum=int(maximum) if maximum.is_integer() else maximum,
        label=label,
        resource_id=_clean_text(form.get("grade_resource_id"), "resource id", MAX_TITLE),
        tag=_clean_text(form.get("grade_tag"), "tag", MAX_TITLE),
    )


def content_item(
    *,
    title: str,
    next_path: str,
    hub_origin: str,
    hub_base_url: str,
    text: str = "",
    custom: Optional[Mapping[str, str]] = None,
    target: str = "",
    line_item: Optional[LineItem] = None,
) -> Dict[str, Any]:
    """One ``ltiResourceLink`` item that launches the hub and lands on ``next_path``."""
    item: Dict[str, Any] = {
        "type": RESOURCE_LINK,
        "title": title,
        "url": hub_launch_url(hub_origin, hub_base_url, next_path),
        "custom": {**(custom or {}), "next": next_path or hub_base_url},
    }
    if text:
        item["text"] = text
    if target == "window":
        item["window"] = {"targetName": "_blank"}
    elif target == "iframe":
        item["iframe"] = {}
    if line_item is not None:
        item["lineItem"] = line_item.claim()
    return item


def check_items(items: Sequence[Mapping[str, Any]], settings: DeepLinkingSettings) -> None:
    """Refuse, before signing, what the platform said it would not accept."""
    if len(items) > 1 and not settings.accept_multiple:
        raise PickerInputError("This course placement accepts only one link at a time.")
    for item in items:
        if item.get("type") not in settings.accept_types:
            raise PickerInputError(
                f"This course placement does not accept items of type {item.get('type')!r} "
                f"(it accepts: {', '.join(settings.accept_types) or 'nothing'})."
            )
        for target in ("window", "iframe", "embed"):
            if target in item and target not in settings.accept_presentation_document_targets:
                raise PickerInputError(f"This course placement does not open links in a {target}.")
        if "lineItem" in item and not settings.accept_lineitem:
            raise PickerInputError("This course placement does not accept gradebook columns.")


# -- the preconfigured choices ------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A link the hub administrator offers in the picker (``deep_linking_choices``)."""

    title: str
    text: str = ""
    #: A path on this hub (``/hub/…``), a path in the user's server, or an nbgitpuller link.
    url: str = ""
    path: str = ""
    repo: str = ""
    branch: str = ""
    urlpath: str = ""
    ui: str = "lab"

    def next_path(self, hub_base_url: str, base_url: str = "/") -> str:
        if self.repo:
            return nbgitpuller_next(
                self.repo, self.branch, self.path, self.ui, hub_base_url, self.urlpath
            )
        if self.path:
            return user_redirect(self.path, hub_base_url)
        next_path = sanitize_next_url(self.url, base_url) if self.url else ""
        if self.url and not next_path:
            raise PickerInputError(f"The choice {self.title!r} has a URL outside this hub.")
        return next_path


_CHOICE_KEYS = {"title", "text", "url", "path", "repo", "branch", "urlpath", "ui"}


def choice_from_config(entry: Any) -> Choice:
    """A configured choice, checked; ``ValueError`` says what is wrong with it."""
    if not isinstance(entry, Mapping):
        raise ValueError("each choice must be a dict")
    unknown = set(entry) - _CHOICE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; allowed: {sorted(_CHOICE_KEYS)}")
    if not all(isinstance(v, str) for v in entry.values()):
        raise ValueError("all values must be strings")
    if not entry.get("title", "").strip():
        raise ValueError("a choice needs a 'title'")
    # with a repo, "path" is the file inside it
    destinations = [k for k in ("url", "repo", "path") if entry.get(k)]
    if len(destinations) > 1 and destinations != ["repo", "path"]:
        raise ValueError("give only one of 'url', 'path' or 'repo'")
    choice = Choice(**{k: v.strip() for k, v in entry.items()})
    try:
        choice.next_path("/hub/")
    except PickerInputError as e:
        raise ValueError(e.message) from None
    if choice.url and not choice.url.startswith("/"):
        raise ValueError("'url' must be a path on the hub, like /hub/user-redirect/lab")
    return choice


# -- the form --------------------------------------------------------------------------------

KINDS = ("home", "path", "nbgitpuller", "choice-<n>")


def item_from_form(
    form: Mapping[str, str],
    settings: DeepLinkingSettings,
    choices: Sequence[Choice],
    *,
    hub_origin: str,
    hub_base_url: str,
    base_url: str = "/",
) -> Dict[str, Any]:
    """The content item the picker form describes; ``PickerInputError`` for bad input."""
    kind = form.get("kind", "")
    choice: Optional[Choice] = None
    if kind == "home":
        next_path = ""
    elif kind == "path":
        next_path = user_redirect(form.get("path", ""), hub_base_url)
    elif kind == "nbgitpuller":
        next_path = nbgitpuller_next(
            form.get("repo", ""),
            form.get("branch", ""),
            form.get("repo_path", ""),
            form.get("ui", "lab"),
            hub_base_url,
        )
    elif kind.startswith("choice-"):
        index = kind[len("choice-") :]
        if not index.isdigit() or int(index) >= len(choices):
            raise PickerInputError("Pick one of the offered links.")
        choice = choices[int(index)]
        next_path = choice.next_path(hub_base_url, base_url)
    else:
        raise PickerInputError(f"Pick what to link to: one of {', '.join(KINDS)}.")
    default_title = (choice.title if choice else "") or settings.title or "JupyterHub"
    title = _clean_text(form.get("title"), "title", MAX_TITLE) or default_title
    text = _clean_text(form.get("text"), "text", MAX_TEXT) or (choice.text if choice else "")
    target = form.get("target", "")
    if target not in ("", "window", "iframe"):
        raise PickerInputError("Open the link in: the course's default, a window or an iframe.")
    line_item = parse_line_item(form, title)
    item = content_item(
        title=title,
        text=text,
        next_path=next_path,
        hub_origin=hub_origin,
        hub_base_url=hub_base_url,
        custom=parse_custom(form.get("custom", "")),
        target=target,
        line_item=line_item,
    )
    check_items([item], settings)
    return item


# -- the response ----------------------------------------------------------------------------


def response_claims(
    *,
    client_id: str,
    issuer: str,
    deployment_id: str,
    settings: DeepLinkingSettings,
    content_items: Sequence[Mapping[str, Any]],
    msg: str = "",
    errormsg: str = "",
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """The claims of the ``LtiDeepLinkingResponse`` (to be signed with the tool key)."""
    issued = int(time.time() if now is None else now)
    claims: Dict[str, Any] = {
        "iss": client_id,
        "aud": issuer,
        "iat": issued,
        "exp": issued + RESPONSE_LIFETIME,
        "nonce": secrets.token_urlsafe(24),
        c.DEPLOYMENT_ID_CLAIM: deployment_id,
        c.MESSAGE_TYPE_CLAIM: DEEP_LINKING_RESPONSE,
        c.VERSION_CLAIM: c.LTI_VERSION,
        CONTENT_ITEMS_CLAIM: [dict(item) for item in content_items],
    }
    if settings.has_data:
        claims[DATA_CLAIM] = settings.data  # echoed verbatim, whatever its type
    if msg:
        claims[MSG_CLAIM] = msg
    if errormsg:
        claims[ERRORMSG_CLAIM] = errormsg
    return claims


# -- picker sessions -------------------------------------------------------------------------


@dataclass(frozen=True)
class PickerContext:
    """What a picker page needs to answer its deep-linking launch, kept on the hub."""

    username: str
    issuer: str
    client_id: str
    deployment_id: str
    settings: DeepLinkingSettings
    created: float = field(default_factory=time.time)
    #: Links composed so far, sent together (only when the platform accepts several).
    pending: List[Dict[str, Any]] = field(default_factory=list)


class PickerSessions(ExpiringEntries):
    """Picker pages waiting for the instructor: one unguessable token each, used once.

    The picker runs inside the LMS frame, where the hub's login cookie may be blocked:
    the token (in the page, never in a cookie or URL) is what ties the form to the
    launch that was verified. Bounded; full means "refuse new ones" (HTTP 503).
    """

    def __init__(
        self,
        ttl: float = PICKER_TTL,
        max_entries: int = 2_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_entries, clock)
        self.ttl = ttl

    def open(self, context: PickerContext) -> str:
        key, secret = secrets.token_urlsafe(12), secrets.token_urlsafe(24)
        if not self._add(key, (secret, context), self.clock() + self.ttl):
            raise BusyError("Too many link pickers are open; try again in a minute.")
        return f"{key}.{secret}"

    def _find(self, token: Any) -> Optional[str]:
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
            return None
        key, secret = token.split(".")
        entry = self._live().get(key)
        if entry is None or not hmac.compare_digest(entry[1][0].encode(), secret.encode()):
            return None
        return key

    def peek(self, token: Any) -> Optional[PickerContext]:
        """The context of a live token, which stays usable (for a form with mistakes)."""
        key = self._find(token)
        return self._live()[key][1][1] if key else None

    def take(self, token: Any) -> Optional[PickerContext]:
        """The context of a live token, which is then spent."""
        key = self._find(token)
        return self._pop(key)[1] if key else None
