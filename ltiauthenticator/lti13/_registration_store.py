"""A durable store for platform registrations made by LTI Dynamic Registration.

Registrations created while the hub runs must survive a restart, and with several hub
processes (or a hub and an admin command) one process must notice another's changes.
This module keeps them in a SQL database through SQLAlchemy Core: SQLite by default,
PostgreSQL or MySQL by URL. Every table is prefixed ``lti_`` so the store can live in the
hub's own database.

The API is synchronous on purpose: callers run it in a thread executor, never on the
event loop. One :class:`RegistrationStore` may be used from many threads at once.

Tables (schema version 1):

``lti_registrations``
    one row per registration.
``lti_schema``
    one row per migration applied: the schema version, and which package version
    applied it (named when a newer package made the database).
``lti_generation``
    one row holding a counter bumped first in every write transaction, so a process
    can poll one cheap query to learn that another process changed the store; holding
    that row also makes writers take turns.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
)
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.types import TypeDecorator

from .. import __version__

__all__ = [
    "STATUSES",
    "DuplicateRegistration",
    "RegistrationStore",
    "RegistrationStoreError",
    "StoreSchemaError",
    "StoredRegistration",
    "UnknownRegistration",
    "configuration_origin",
    "slugify",
]

STATUSES = ("pending", "active", "disabled")

#: Longest registration name; slugs are cut shorter to leave room for a "-N" suffix.
NAME_MAX = 64
_SLUG_MAX = 48
#: Longest issuer, client id and configuration origin. They are parts of unique keys,
#: which MySQL limits to 3072 bytes (4 bytes a character in utf8mb4).
KEY_MAX = 255

_SLUG_UNSAFE = re.compile(r"[^a-z0-9.-]+")
#: A password given as a query parameter (libpq's ``?password=``).
_QUERY_PASSWORD = re.compile(r"(password=)[^&]*", re.IGNORECASE)
#: Writers take turns (see ``_writing``), so losing a race for a name takes a database
#: whose isolation hides the winner; such a write is retried this many times.
_INSERT_ATTEMPTS = 20
#: Any constant works; it names "the schema of this store" among a database's advisory
#: locks (it is "LTIstore" in ASCII).
_SCHEMA_LOCK_KEY = 0x4C544973746F7265
#: SQLite waits this long (seconds) for another writer before giving up.
_SQLITE_BUSY_TIMEOUT = 30


class RegistrationStoreError(Exception):
    """The store cannot do what was asked; the message says what to do about it."""


class DuplicateRegistration(RegistrationStoreError):
    """The platform is registered already; ``name`` and ``status`` are the existing one's."""

    def __init__(self, message: str, *, name: str, status: str) -> None:
        super().__init__(message)
        self.name = name
        self.status = status


class UnknownRegistration(RegistrationStoreError):
    """No registration has that id (any more)."""


class StoreSchemaError(RegistrationStoreError):
    """The database's schema is not one this package can use (e.g. a newer one)."""


@dataclass(frozen=True)
class StoredRegistration:
    id: int
    #: Unique short name (``[a-z0-9.-]+``), from the ``name_hint`` given to ``add``.
    name: str
    issuer: str
    client_id: str
    deployment_ids: Tuple[str, ...]
    authorize_url: str
    jwks_endpoint: str
    token_url: str
    token_audience: str
    username_prefix: str
    frame_origins: Tuple[str, ...]
    #: One of :data:`STATUSES`.
    status: str
    #: E.g. ``"moodle"``, from the platform's OpenID configuration.
    product_family: str
    product_version: str
    openid_configuration_url: str
    #: ``scheme://host[:port]`` of ``openid_configuration_url`` ("" when that is empty).
    configuration_origin: str
    #: The platform's OpenID configuration as received.
    platform_configuration: Dict[str, Any]
    #: Timezone-aware, UTC.
    created_at: datetime
    updated_at: datetime


def slugify(hint: str) -> str:
    """A registration name made from ``hint``: lowercase ASCII letters, digits, ``.``, ``-``."""
    ascii_hint = unicodedata.normalize("NFKD", hint).encode("ascii", "ignore").decode()
    slug = _SLUG_UNSAFE.sub("-", ascii_hint.lower()).strip("-.")
    return slug[:_SLUG_MAX].strip("-.") or "platform"


def configuration_origin(openid_configuration_url: str) -> str:
    """``scheme://host[:port]`` of the URL, the port only when it is not the default."""
    if not openid_configuration_url:
        return ""
    try:
        parts = urlsplit(openid_configuration_url)
        port = parts.port
    except ValueError as e:
        raise ValueError(
            f"openid_configuration_url {openid_configuration_url!r} is not a valid URL: {e}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"openid_configuration_url {openid_configuration_url!r} is not an http(s) URL"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}[parts.scheme]
    if port is None or port == default_port:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, whatever the database keeps.

    PostgreSQL has ``timestamptz``; SQLite and MySQL keep naive values, which this
    type writes and reads as UTC. The columns are NOT NULL, so there is no None.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime, dialect: Any) -> datetime:
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime, dialect: Any) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


_metadata = MetaData()

_registrations = Table(
    "lti_registrations",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_MAX), nullable=False),
    Column("issuer", String(KEY_MAX), nullable=False),
    Column("client_id", String(KEY_MAX), nullable=False),
    Column("deployment_ids", JSON, nullable=False),
    Column("authorize_url", Text, nullable=False),
    Column("jwks_endpoint", Text, nullable=False),
    Column("token_url", Text, nullable=False),
    Column("token_audience", Text, nullable=False),
    Column("username_prefix", Text, nullable=False),
    Column("frame_origins", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("product_family", Text, nullable=False),
    Column("product_version", Text, nullable=False),
    Column("openid_configuration_url", Text, nullable=False),
    # NULL, not "", when there is none: a unique constraint never matches NULLs (in SQLite,
    # PostgreSQL and MySQL alike), so registrations without one do not collide.
    Column("configuration_origin", String(KEY_MAX), nullable=True),
    Column("platform_configuration", JSON, nullable=False),
    Column("created_at", _UTCDateTime, nullable=False),
    Column("updated_at", _UTCDateTime, nullable=False),
    UniqueConstraint("name", name="uq_lti_registrations_name"),
    UniqueConstraint("issuer", "client_id", name="uq_lti_registrations_issuer_client_id"),
    UniqueConstraint("issuer", "configuration_origin", name="uq_lti_registrations_issuer_origin"),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{s}'" for s in STATUSES)),
        name="ck_lti_registrations_status",
    ),
)

_schema = Table(
    "lti_schema",
    _metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("package_version", String(64), nullable=False),
    Column("applied_at", _UTCDateTime, nullable=False),
)

_generation = Table(
    "lti_generation",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)

_GENERATION_ROW = 1


def _migrate_to_1(conn: Connection) -> None:
    # Version 1 is the schema as first released, so the tables above are its definition.
    # When a later migration changes a table, freeze that table's version 1 here first.
    _metadata.create_all(conn, tables=[_registrations, _generation])
    conn.execute(insert(_generation).values(id=_GENERATION_ROW, generation=0))


#: version → the migration that brings the schema from the version before to it.
_MIGRATIONS: Dict[int, Callable[[Connection], None]] = {1: _migrate_to_1}


def _userinfo(raw: str) -> Tuple[str, str, str]:
    """``raw`` cut around its ``user:password``: (before, userinfo, from the "@" on).

    Done by hand rather than by SQLAlchemy's parser, so that a URL it cannot parse, or
    parses wrongly (a raw "@" in the password), still has its whole password masked.
    """
    head, sep, rest = raw.partition("://")
    if not sep:
        head, rest = "", raw
    before_query = rest.partition("?")[0]
    at = before_query.rfind("@")
    if at < 0:
        return raw, "", ""
    return head + sep, rest[:at], rest[at:]


def _mask_url(raw: str) -> str:
    """The URL with its password replaced by ``***``, even when it does not parse."""
    before, userinfo, after = _userinfo(raw)
    user, colon, _password = userinfo.partition(":")
    masked = f"{before}{user}{':***' if colon else ''}{after}"
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def _reason(error: BaseException, password: Optional[str]) -> str:
    """The driver's one-line account of ``error``, with no password in it."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig else error
    lines = str(original).strip().splitlines() or [type(original).__name__]
    reason = lines[0][:300]
    return reason.replace(password, "***") if password else reason


def _strings(value: Sequence[str], field: str) -> Tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{field} must be a list of strings, not {value!r}")
    return tuple(value)


def _checked_text(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}")
    return value


def _checked_json(configuration: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    configuration = dict(configuration or {})
    try:
        json.dumps(configuration)
    except (TypeError, ValueError) as e:
        raise ValueError(f"platform_configuration must be JSON: {e}") from None
    return configuration


def _checked_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown registration status {status!r}: use one of {STATUSES}")
    return status


def _checked_key(value: str, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"a registration needs a non-empty {field}")
    if len(value) > KEY_MAX:
        raise ValueError(f"{field} is longer than {KEY_MAX} characters")
    return value


def _new_row(
    *,
    issuer: str,
    client_id: str,
    name_hint: str,
    deployment_ids: Sequence[str] = (),
    authorize_url: str = "",
    jwks_endpoint: str = "",
    token_url: str = "",
    token_audience: str = "",
    username_prefix: str = "",
    frame_origins: Sequence[str] = (),
    status: str = "pending",
    product_family: str = "",
    product_version: str = "",
    openid_configuration_url: str = "",
    platform_configuration: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The checked column values of a new registration, without name and timestamps.

    The keyword arguments are :meth:`RegistrationStore.add`'s, so an unknown key in a row
    given to ``add_many`` is a ``TypeError`` naming it.
    """
    texts = {
        "name_hint": name_hint,
        "authorize_url": authorize_url,
        "jwks_endpoint": jwks_endpoint,
        "token_url": token_url,
        "token_audience": token_audience,
        "username_prefix": username_prefix,
        "product_family": product_family,
        "product_version": product_version,
        "openid_configuration_url": openid_configuration_url,
    }
    for field, value in texts.items():
        _checked_text(value, field)
    origin = configuration_origin(openid_configuration_url)
    if len(origin) > KEY_MAX:
        raise ValueError(f"the origin of openid_configuration_url is over {KEY_MAX} characters")
    return {
        **texts,
        "issuer": _checked_key(issuer, "issuer"),
        "client_id": _checked_key(client_id, "client_id"),
        "deployment_ids": list(_strings(deployment_ids, "deployment_ids")),
        "frame_origins": list(_strings(frame_origins, "frame_origins")),
        "status": _checked_status(status),
        "configuration_origin": origin or None,
        "platform_configuration": _checked_json(platform_configuration),
    }


def _to_registration(row: Row) -> StoredRegistration:
    return StoredRegistration(
        id=row.id,
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        deployment_ids=tuple(row.deployment_ids),
        authorize_url=row.authorize_url,
        jwks_endpoint=row.jwks_endpoint,
        token_url=row.token_url,
        token_audience=row.token_audience,
        username_prefix=row.username_prefix,
        frame_origins=tuple(row.frame_origins),
        status=row.status,
        product_family=row.product_family,
        product_version=row.product_version,
        openid_configuration_url=row.openid_configuration_url,
        configuration_origin=row.configuration_origin or "",
        platform_configuration=dict(row.platform_configuration),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _duplicate_of_client(
    issuer: str, client_id: str, name: str, status: str
) -> DuplicateRegistration:
    return DuplicateRegistration(
        f"the platform {issuer} with client id {client_id} is registered already, "
        f"as '{name}' ({status})",
        name=name,
        status=status,
    )


def _duplicate_of_origin(issuer: str, origin: str, name: str, status: str) -> DuplicateRegistration:
    return DuplicateRegistration(
        f"the platform {issuer} registered from {origin} already, as '{name}' ({status}); "
        "remove that registration to register again",
        name=name,
        status=status,
    )


def _refuse_duplicate(conn: Connection, row: Mapping[str, Any]) -> None:
    """Raise :class:`DuplicateRegistration` if ``row`` clashes with a stored one."""
    t = _registrations
    same_client = (t.c.issuer == row["issuer"]) & (t.c.client_id == row["client_id"])
    clash = same_client
    if row["configuration_origin"] is not None:
        same_origin = (t.c.issuer == row["issuer"]) & (
            t.c.configuration_origin == row["configuration_origin"]
        )
        clash = or_(same_client, same_origin)
    existing = conn.execute(
        select(t.c.name, t.c.status, t.c.client_id).where(clash).order_by(t.c.id).limit(1)
    ).first()
    if existing is None:
        return
    if existing.client_id == row["client_id"]:
        raise _duplicate_of_client(row["issuer"], row["client_id"], existing.name, existing.status)
    raise _duplicate_of_origin(
        row["issuer"], row["configuration_origin"], existing.name, existing.status
    )


class _NamePicker:
    """Picks ``base``, else ``base-2``, ``base-3``... among names not ``taken``."""

    def __init__(self, taken: Set[str]) -> None:
        self._taken = set(taken)
        # The last suffix given per base, so a batch of 10,000 same-named rows does not
        # count up from 2 for each.
        self._last_suffix: Dict[str, int] = {}

    def pick(self, base: str) -> str:
        name = base
        n = self._last_suffix.get(base, 1)
        while name in self._taken:
            n += 1
            name = f"{base}-{n}"
        self._last_suffix[base] = n
        self._taken.add(name)
        return name


def _names_like(conn: Connection, base: str) -> Set[str]:
    """Stored names that are ``base`` or ``base-<anything>`` (slugs have no LIKE wildcards)."""
    t = _registrations
    query = select(t.c.name).where(or_(t.c.name == base, t.c.name.like(f"{base}-%")))
    return set(conn.scalars(query))


def _bump_generation(conn: Connection) -> None:
    conn.execute(
        sql_update(_generation)
        .where(_generation.c.id == _GENERATION_ROW)
        .values(generation=_generation.c.generation + 1)
    )


def _fetch(conn: Connection, registration_id: int) -> StoredRegistration:
    row = conn.execute(select(_registrations).where(_registrations.c.id == registration_id)).first()
    if row is None:
        raise _unknown(registration_id)
    return _to_registration(row)


def _schema_version(conn: Connection) -> Tuple[int, str]:
    """The schema's version (0 for none) and the package version that applied it."""
    if not inspect(conn).has_table(_schema.name):
        return 0, ""
    latest = conn.execute(
        select(_schema.c.version, _schema.c.package_version)
        .order_by(_schema.c.version.desc())
        .limit(1)
    ).first()
    return (latest.version, latest.package_version) if latest else (0, "")


def _lock_schema(conn: Connection) -> None:
    """Make a concurrent ``open()`` wait until this transaction ends.

    SQLite needs nothing here: write transactions begin with ``BEGIN IMMEDIATE``, which
    already excludes every other writer. MySQL gets no lock (see :class:`RegistrationStore`).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))


_Result = TypeVar("_Result")


def _open_only(method: Callable[..., _Result]) -> Callable[..., _Result]:
    """Refuse calls before ``open()``, and turn database failures into store errors."""

    @functools.wraps(method)
    def guarded(self: RegistrationStore, *args: Any, **kwargs: Any) -> _Result:
        if self._engine is None:
            raise RegistrationStoreError("the registration store is not open: call open() first")
        try:
            return method(self, *args, **kwargs)
        except DBAPIError as e:
            raise RegistrationStoreError(
                f"the registration database at {self._safe_url} failed: "
                f"{_reason(e, self._password)}"
            ) from None

    return guarded


class RegistrationStore:
    """Registrations in a SQL database named by a SQLAlchemy URL.

    ``sqlite:///lti_registrations.sqlite`` (relative to the working directory, like
    JupyterHub's ``db_url``), ``sqlite:////abs/path.sqlite``,
    ``postgresql+psycopg://user:password@host/db``: any URL whose driver is installed.
    The tests cover SQLite and PostgreSQL; MySQL should work, except that two processes
    opening a new MySQL database at the same moment are not kept apart (MySQL commits
    each CREATE TABLE at once, so there is no transaction to lock).

    Construct, then :meth:`open` (which creates or migrates the tables), use from any
    thread, :meth:`close`.
    """

    LATEST_SCHEMA: int = max(_MIGRATIONS)

    def __init__(self, url: str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._url = url
        self._safe_url = _mask_url(url)
        self._password: Optional[str] = None
        #: Where created_at and updated_at come from: aware datetimes.
        self._clock = clock
        self._engine: Optional[Engine] = None
        self._writer: Optional[Engine] = None
        self._version = 0
        self._opening = threading.Lock()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the registration store's clock must give timezone-aware datetimes")
        return now

    def __repr__(self) -> str:
        return f"<RegistrationStore {self._safe_url}>"

    # -- opening and closing ---------------------------------------------------------

    def open(self) -> None:
        """Connect, and create or migrate the schema to :attr:`LATEST_SCHEMA`.

        Idempotent. Safe when other threads or processes open the same database at the
        same time: one of them migrates, the others wait and find it done.
        """
        with self._opening:
            if self._engine is not None:
                return
            engine = self._create_engine()
            writer = engine.execution_options(lti_write=True)
            try:
                if engine.dialect.name == "sqlite":
                    _switch_to_wal(engine)
                with writer.begin() as conn:
                    version = self._migrate(conn)
            except (DBAPIError, sqlite3.Error) as e:
                engine.dispose()
                raise RegistrationStoreError(
                    f"cannot use the registration database at {self._safe_url}: "
                    f"{_reason(e, self._password)}"
                ) from None
            except BaseException:
                engine.dispose()
                raise
            self._engine, self._writer, self._version = engine, writer, version

    def close(self) -> None:
        """Release the database connections; :meth:`open` may be called again."""
        with self._opening:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = self._writer = None

    @property
    def engine(self) -> Optional[Engine]:
        """The SQLAlchemy engine while the store is open (for diagnostics and tests)."""
        return self._engine

    @property
    def schema_version(self) -> int:
        """The schema version of the open database (:attr:`LATEST_SCHEMA` once open)."""
        if self._engine is None:
            raise RegistrationStoreError("the registration store is not open: call open() first")
        return self._version

    def _parsed_url(self) -> URL:
        if "@" in _userinfo(self._url)[1]:
            raise RegistrationStoreError(
                f"the password in the registration database URL {self._safe_url} has an "
                "'@' in it: write it as %40"
            )
        try:
            url = make_url(self._url)
        except ArgumentError:
            raise RegistrationStoreError(
                f"{self._safe_url!r} is not a database URL: use one like "
                "sqlite:///lti_registrations.sqlite or postgresql+psycopg://user@host/db"
            ) from None
        self._password = url.password
        return url

    def _create_engine(self) -> Engine:
        url = self._parsed_url()
        is_sqlite = url.get_backend_name() == "sqlite"
        if is_sqlite:
            self._check_sqlite_path(url)
        try:
            if is_sqlite:
                engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT})
                _configure_sqlite(engine)
            else:
                engine = create_engine(url, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError) as e:
            raise RegistrationStoreError(
                f"cannot use the registration database at {self._safe_url}: "
                f"{_reason(e, self._password)}; use a known database kind and install its "
                "driver (e.g. psycopg for postgresql+psycopg://)"
            ) from None
        return engine

    def _check_sqlite_path(self, url: URL) -> None:
        database = url.database or ""
        if database in ("", ":memory:") or url.query.get("mode") == "memory":
            raise RegistrationStoreError(
                f"{self._safe_url} is an in-memory database, which would lose every "
                "registration when the hub stops: give a file, e.g. "
                "sqlite:///lti_registrations.sqlite"
            )
        # With ?uri=true, the database is a URI: file:path
        path = database[len("file:") :] if database.startswith("file:") else database
        directory = Path(path).absolute().parent
        if not directory.is_dir():
            raise RegistrationStoreError(
                f"the directory {directory} for the registration database {self._safe_url} "
                "does not exist: create it, or choose a database file in an existing one"
            )

    def _migrate(self, conn: Connection) -> int:
        _lock_schema(conn)
        version, applied_by = _schema_version(conn)
        if version > self.LATEST_SCHEMA:
            raise StoreSchemaError(
                f"the registration database at {self._safe_url} has schema version "
                f"{version}, made by jupyterhub-ltiauthenticator {applied_by}; this is "
                f"{__version__}, which knows versions up to {self.LATEST_SCHEMA}: upgrade "
                "jupyterhub-ltiauthenticator to at least the version that made it"
            )
        if version == 0:
            _metadata.create_all(conn, tables=[_schema])
        for step in range(version + 1, self.LATEST_SCHEMA + 1):
            _MIGRATIONS[step](conn)
            conn.execute(
                insert(_schema).values(
                    version=step, package_version=__version__, applied_at=self._now()
                )
            )
        return self.LATEST_SCHEMA

    # -- reading -----------------------------------------------------------------------

    @_open_only
    def all(self) -> List[StoredRegistration]:
        """Every registration, ordered by id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(_registrations).order_by(_registrations.c.id))
            return [_to_registration(row) for row in rows]

    @_open_only
    def get(self, registration_id: int) -> StoredRegistration:
        """The registration with this id; :class:`UnknownRegistration` if there is none."""
        with self._engine.connect() as conn:
            return _fetch(conn, registration_id)

    @_open_only
    def count(self, status: Optional[str] = None) -> int:
        """How many registrations there are (with ``status``, when given)."""
        query = select(func.count()).select_from(_registrations)
        if status is not None:
            query = query.where(_registrations.c.status == _checked_status(status))
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one()

    @_open_only
    def generation(self) -> int:
        """A number that grows with every write, by this process or any other."""
        query = select(_generation.c.generation).where(_generation.c.id == _GENERATION_ROW)
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction, which bumps the generation before anything else.

        Bumping first also makes writers take turns: the counter's row stays locked until
        the transaction ends, and what a writer reads after it (taken names, duplicates)
        includes every write before. SQLite's ``BEGIN IMMEDIATE`` does that already; on
        PostgreSQL, concurrent adds of one name would otherwise keep losing the name to
        each other and retrying.
        """
        with self._writer.begin() as conn:
            _bump_generation(conn)
            yield conn

    @_open_only
    def add(
        self,
        *,
        issuer: str,
        client_id: str,
        name_hint: str,
        deployment_ids: Sequence[str] = (),
        authorize_url: str = "",
        jwks_endpoint: str = "",
        token_url: str = "",
        token_audience: str = "",
        username_prefix: str = "",
        frame_origins: Sequence[str] = (),
        status: str = "pending",
        product_family: str = "",
        product_version: str = "",
        openid_configuration_url: str = "",
        platform_configuration: Optional[Mapping[str, Any]] = None,
    ) -> StoredRegistration:
        """Store a new registration, named after ``name_hint`` (``-2``, ``-3``... if taken).

        :class:`DuplicateRegistration` if the issuer has a registration with this client
        id, or one made from the same OpenID configuration origin. ``ValueError`` for an
        unknown status, an empty issuer or client id, or a malformed configuration URL.
        """
        row = _new_row(
            issuer=issuer,
            client_id=client_id,
            name_hint=name_hint,
            deployment_ids=deployment_ids,
            authorize_url=authorize_url,
            jwks_endpoint=jwks_endpoint,
            token_url=token_url,
            token_audience=token_audience,
            username_prefix=username_prefix,
            frame_origins=frame_origins,
            status=status,
            product_family=product_family,
            product_version=product_version,
            openid_configuration_url=openid_configuration_url,
            platform_configuration=platform_configuration,
        )
        base = slugify(row.pop("name_hint"))
        now = self._now()
        for _ in range(_INSERT_ATTEMPTS):
            try:
                with self._writing() as conn:
                    _refuse_duplicate(conn, row)
                    name = _NamePicker(_names_like(conn, base)).pick(base)
                    values = {**row, "name": name, "created_at": now, "updated_at": now}
                    result = conn.execute(insert(_registrations).values(**values))
                    return _fetch(conn, result.inserted_primary_key[0])
            except IntegrityError:
                # Another writer took the name (or the platform) between our look and our
                # insert; the next look sees it.
                continue
        raise RegistrationStoreError(
            f"could not find a free name for '{base}' after {_INSERT_ATTEMPTS} attempts, "
            "as other registrations kept taking them: try again"
        )

    @_open_only
    def add_many(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store many registrations in one transaction (e.g. to seed a benchmark).

        Each row has :meth:`add`'s keyword arguments. All or nothing: a duplicate, within
        ``rows`` or with a stored registration, raises :class:`DuplicateRegistration` and
        stores none. Returns how many were stored.
        """
        new_rows = [_new_row(**row) for row in rows]
        if not new_rows:
            return 0
        now = self._now()
        for _ in range(_INSERT_ATTEMPTS):
            try:
                with self._writing() as conn:
                    values = _named_batch(conn, new_rows, now)
                    conn.execute(insert(_registrations), values)
                    return len(values)
            except IntegrityError:
                continue
        raise RegistrationStoreError(
            f"could not store {len(new_rows)} registrations after {_INSERT_ATTEMPTS} "
            "attempts, as other writers kept taking their names: try again"
        )

    @_open_only
    def update(
        self,
        registration_id: int,
        *,
        status: Optional[str] = None,
        username_prefix: Optional[str] = None,
        deployment_ids: Optional[Sequence[str]] = None,
    ) -> StoredRegistration:
        """Change what is given (``None`` leaves a field as it is) and bump ``updated_at``.

        ``ValueError`` for an unknown status; :class:`UnknownRegistration` for an unknown
        id. Given nothing to change, it writes nothing and returns the registration.
        """
        changes: Dict[str, Any] = {}
        if status is not None:
            changes["status"] = _checked_status(status)
        if username_prefix is not None:
            changes["username_prefix"] = _checked_text(username_prefix, "username_prefix")
        if deployment_ids is not None:
            changes["deployment_ids"] = list(_strings(deployment_ids, "deployment_ids"))
        if not changes:
            return self.get(registration_id)
        changes["updated_at"] = self._now()
        with self._writing() as conn:
            result = conn.execute(
                sql_update(_registrations)
                .where(_registrations.c.id == registration_id)
                .values(**changes)
            )
            if result.rowcount == 0:
                raise _unknown(registration_id)
            return _fetch(conn, registration_id)

    @_open_only
    def delete(self, registration_id: int) -> None:
        """Remove a registration; :class:`UnknownRegistration` if there is none."""
        with self._writing() as conn:
            result = conn.execute(
                sql_delete(_registrations).where(_registrations.c.id == registration_id)
            )
            if result.rowcount == 0:
                raise _unknown(registration_id)


def _unknown(registration_id: int) -> UnknownRegistration:
    return UnknownRegistration(
        f"there is no registration with id {registration_id}; it may have been deleted meanwhile"
    )


def _named_batch(
    conn: Connection, rows: Sequence[Dict[str, Any]], now: datetime
) -> List[Dict[str, Any]]:
    """``rows`` ready to insert: checked against each other and the store, and named."""
    t = _registrations
    stored = conn.execute(
        select(t.c.name, t.c.status, t.c.issuer, t.c.client_id, t.c.configuration_origin)
    ).all()
    names = _NamePicker({r.name for r in stored})
    by_client = {(r.issuer, r.client_id): r for r in stored}
    by_origin = {(r.issuer, r.configuration_origin): r for r in stored if r.configuration_origin}
    values = []
    for row in rows:
        issuer, client_id, origin = row["issuer"], row["client_id"], row["configuration_origin"]
        if (issuer, client_id) in by_client:
            other = by_client[(issuer, client_id)]
            raise _duplicate_of_client(issuer, client_id, other.name, other.status)
        if origin and (issuer, origin) in by_origin:
            other = by_origin[(issuer, origin)]
            raise _duplicate_of_origin(issuer, origin, other.name, other.status)
        fields = {k: v for k, v in row.items() if k != "name_hint"}
        name = names.pick(slugify(row["name_hint"]))
        value = {**fields, "name": name, "created_at": now, "updated_at": now}
        values.append(value)
        # The batch's own rows count as stored for the rows after them.
        named = _Named(name, row["status"])
        by_client[(issuer, client_id)] = named
        if origin:
            by_origin[(issuer, origin)] = named
    return values


@dataclass(frozen=True)
class _Named:
    name: str
    status: str


def _configure_sqlite(engine: Engine) -> None:
    """``BEGIN IMMEDIATE`` for writes, plain ``BEGIN`` for reads.

    Python's sqlite3 module begins transactions itself, lazily and as DEFERRED; a deferred
    transaction that reads and then writes can fail at once with "database is locked"
    when another writer got in between, whatever the busy timeout. So the driver's
    transaction handling is switched off and SQLAlchemy's begin emits the statement:
    ``BEGIN IMMEDIATE`` (take the write lock now, waiting for it) on the writer engine,
    plain ``BEGIN`` for reads, which WAL lets run beside a writer.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        writing = conn.get_execution_options().get("lti_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _switch_to_wal(engine: Engine) -> None:
    """Put the database in WAL mode (kept in the file), so readers never wait for writers.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without waiting out the busy timeout, when another process opening the same new file
    holds a lock meanwhile; so the switch is retried until that timeout.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT
    connection = engine.raw_connection()
    try:
        while True:
            try:
                connection.driver_connection.execute("PRAGMA journal_mode=WAL").close()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)
    finally:
        connection.close()
