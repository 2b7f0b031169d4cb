"""The durable registration store, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from sqlalchemy import MetaData, Table, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

from ltiauthenticator import __version__
from ltiauthenticator._localhub import free_port
from ltiauthenticator.lti13._registration_store import (
    NAME_MAX,
    DuplicateRegistration,
    RegistrationStore,
    RegistrationStoreError,
    StoredRegistration,
    StoreSchemaError,
    UnknownRegistration,
    slugify,
)

from ..support.hub import REPO
from ..support.measuring import unmeasured_environment
from ..support.postgres import PostgresServer
from ..support.waiting import wait_until

ISSUER = "https://moodle.example.edu"

FULL: Dict[str, Any] = {
    "issuer": ISSUER,
    "client_id": "tool-client-1",
    "name_hint": "Moodle (Example University)",
    "deployment_ids": ["1", "2"],
    "authorize_url": f"{ISSUER}/mod/lti/auth.php",
    "jwks_endpoint": f"{ISSUER}/mod/lti/certs.php",
    "token_url": f"{ISSUER}/mod/lti/token.php",
    "token_audience": f"{ISSUER}/mod/lti/token.php",
    "username_prefix": "moodle-",
    "frame_origins": [ISSUER],
    "status": "active",
    "product_family": "moodle",
    "product_version": "4.3.2",
    "openid_configuration_url": f"{ISSUER}/mod/lti/openid-configuration.php?x=1",
    "platform_configuration": {
        "issuer": ISSUER,
        "scopes_supported": ["openid"],
        "https://purl.imsglobal.org/spec/lti-platform-configuration": {
            "product_family_code": "moodle",
            "version": "4.3.2",
            "messages_supported": [{"type": "LtiResourceLinkRequest", "placements": None}],
        },
        "nested": {"ünïcode": "✓", "flag": True, "ratio": 1.5, "none": None},
    },
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, of either kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registrations.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[..., RegistrationStore]]:
    """Factory: an opened store on ``store_url`` (another "hub process" at each call)."""
    opened: List[RegistrationStore] = []

    def open_one(**kwargs: Any) -> RegistrationStore:
        store = RegistrationStore(store_url, **kwargs)
        store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., RegistrationStore]) -> RegistrationStore:
    return open_store()


def added(store: RegistrationStore, n: int, **overrides: Any) -> StoredRegistration:
    """Registration number ``n`` of a distinct platform (with ``overrides``)."""
    fields = {"issuer": f"https://lms{n}.example", "client_id": f"client-{n}", "name_hint": "lms"}
    return store.add(**{**fields, **overrides})


@contextmanager
def bypassing_the_store(url: str) -> Iterator[Engine]:
    """An engine of its own on the store's database, as another program would have."""
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_rows(url: str) -> List[Tuple[int, str]]:
    query = text("SELECT version, package_version FROM lti_schema ORDER BY version")
    with bypassing_the_store(url) as engine, engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


# -- round trip ------------------------------------------------------------------------


def test_add_get_and_all_round_trip_every_field(store: RegistrationStore) -> None:
    stored = store.add(**FULL)

    assert stored == store.get(stored.id) == store.all()[0]
    assert stored.name == "moodle-example-university"
    assert stored.issuer == ISSUER and stored.client_id == "tool-client-1"
    assert stored.deployment_ids == ("1", "2")
    assert stored.frame_origins == (ISSUER,)
    for url_field in ("authorize_url", "jwks_endpoint", "token_url", "token_audience"):
        assert getattr(stored, url_field) == FULL[url_field]
    assert stored.username_prefix == "moodle-"
    assert stored.status == "active"
    assert (stored.product_family, stored.product_version) == ("moodle", "4.3.2")
    assert stored.openid_configuration_url == FULL["openid_configuration_url"]
    assert stored.configuration_origin == ISSUER
    assert stored.platform_configuration == FULL["platform_configuration"]
    for moment in (stored.created_at, stored.updated_at):
        assert moment.utcoffset() == timedelta(0)
    assert stored.created_at == stored.updated_at


def test_defaults_are_a_pending_registration_with_empty_fields(store: RegistrationStore) -> None:
    stored = store.add(issuer=ISSUER, client_id="c", name_hint="x")

    assert stored.status == "pending"
    assert stored.deployment_ids == () and stored.frame_origins == ()
    assert stored.configuration_origin == "" and stored.platform_configuration == {}
    assert stored.authorize_url == stored.username_prefix == stored.product_family == ""


def test_timestamps_come_from_the_clock_in_utc(
    open_store: Callable[..., RegistrationStore],
) -> None:
    now = [datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)]
    store = open_store(clock=lambda: now[0])
    stored = added(store, 1)
    now[0] = datetime(2030, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    updated = store.update(stored.id, status="active")

    assert (
        updated.created_at
        == stored.created_at
        == datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    )
    assert updated.updated_at == datetime(2030, 1, 2, 10, 0, tzinfo=timezone.utc)
    assert updated.updated_at.tzinfo == timezone.utc


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://LMS.example:443/openid", "https://lms.example"),
        ("https://lms.example:8443/openid", "https://lms.example:8443"),
        ("http://lms.example:80/a?b=c", "http://lms.example"),
        ("http://[::1]:8080/openid", "http://[::1]:8080"),
    ],
)
def test_configuration_origin_is_scheme_host_and_port(
    store: RegistrationStore, url: str, origin: str
) -> None:
    assert added(store, 1, openid_configuration_url=url).configuration_origin == origin


# -- duplicates and names --------------------------------------------------------------


def test_same_issuer_and_client_id_is_refused_naming_the_existing(
    store: RegistrationStore,
) -> None:
    existing = added(store, 1, name_hint="Canvas", status="disabled")

    with pytest.raises(DuplicateRegistration) as refused:
        added(store, 1, name_hint="Other")

    message = str(refused.value)
    assert "'canvas'" in message and "disabled" in message
    assert (refused.value.name, refused.value.status) == (existing.name, "disabled")
    assert store.count() == 1


def test_same_issuer_from_the_same_configuration_origin_is_refused(
    store: RegistrationStore,
) -> None:
    added(store, 1, client_id="a", openid_configuration_url="https://lms.example/openid")

    with pytest.raises(DuplicateRegistration) as refused:
        added(store, 1, client_id="b", openid_configuration_url="https://lms.example:443/other")

    assert "'lms'" in str(refused.value) and "pending" in str(refused.value)
    assert "https://lms.example" in str(refused.value)
    # Another issuer at that origin (a multi-tenant LMS) is another platform.
    added(store, 2, openid_configuration_url="https://lms.example/openid")
    # Without a configuration URL, only the client id makes a duplicate.
    added(store, 1, client_id="c")
    added(store, 1, client_id="d")
    assert store.count() == 4


def test_the_database_itself_refuses_duplicates(store: RegistrationStore, store_url: str) -> None:
    """The unique constraints hold for writers that bypass the store's checks."""
    first = store.add(**FULL)
    clashes = [
        {"client_id": "other"},  # same name
        {"name": "other"},  # same issuer and client id
        {"name": "other", "client_id": "other"},  # same issuer and configuration origin
    ]
    with bypassing_the_store(store_url) as engine:
        table = Table("lti_registrations", MetaData(), autoload_with=engine)
        row = {c.name: getattr(first, c.name) for c in table.c if c.name != "id"}
        for clash in clashes:
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(table.insert().values({**row, **clash}))
        # No origin (NULL) never clashes with another.
        with engine.begin() as conn:
            for n in range(2):
                conn.execute(
                    table.insert().values(
                        {**row, "name": f"n{n}", "client_id": f"n{n}", "configuration_origin": None}
                    )
                )


def test_colliding_names_get_suffixes(store: RegistrationStore) -> None:
    names = [added(store, n, name_hint="Moodle LMS").name for n in range(3)]
    assert names == ["moodle-lms", "moodle-lms-2", "moodle-lms-3"]

    store.delete(store.all()[1].id)

    assert added(store, 3, name_hint="Moodle LMS").name == "moodle-lms-2"
    assert added(store, 4, name_hint="moodle-lms").name == "moodle-lms-4"


@pytest.mark.parametrize(
    ("hint", "name"),
    [
        ("Université Côte d'Azur", "universite-cote-d-azur"),
        ("  --Canvas..Test--  ", "canvas..test"),
        ("!!!", "platform"),
        ("", "platform"),
        ("x" * 100, "x" * 48),
    ],
)
def test_names_are_slugs_of_the_hint(hint: str, name: str) -> None:
    assert slugify(hint) == name
    assert len(f"{name}-99999") <= NAME_MAX


# -- update and delete -----------------------------------------------------------------


def test_update_changes_status_prefix_and_deployments(store: RegistrationStore) -> None:
    stored = added(store, 1, deployment_ids=["1"])

    store.update(stored.id, status="active")
    store.update(stored.id, username_prefix="canvas-")
    updated = store.update(stored.id, deployment_ids=["1", "7"])

    assert updated == store.get(stored.id)
    assert (updated.status, updated.username_prefix) == ("active", "canvas-")
    assert updated.deployment_ids == ("1", "7")
    assert updated.created_at == stored.created_at
    assert updated.updated_at >= stored.updated_at


def test_unknown_statuses_and_bad_updates_are_refused(store: RegistrationStore) -> None:
    stored = added(store, 1)

    with pytest.raises(ValueError, match="'approved'.*pending"):
        store.update(stored.id, status="approved")
    with pytest.raises(ValueError, match="unknown registration status"):
        added(store, 2, status="approved")
    with pytest.raises(ValueError, match="unknown registration status"):
        store.count("approved")
    with pytest.raises(ValueError, match="username_prefix must be a string"):
        store.update(stored.id, username_prefix=1)
    assert store.get(stored.id).status == "pending"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"issuer": ""}, "non-empty issuer"),
        ({"client_id": ""}, "non-empty client_id"),
        ({"issuer": "https://" + "x" * 300}, "longer than 255"),
        ({"deployment_ids": "1"}, "list of strings"),
        ({"frame_origins": [1]}, "list of strings"),
        ({"authorize_url": None}, "authorize_url must be a string"),
        ({"platform_configuration": {"when": datetime(2030, 1, 1)}}, "must be JSON"),
        ({"openid_configuration_url": "ftp://lms.example/x"}, "not an http"),
        ({"openid_configuration_url": f"https://{'h' * 300}/x"}, "origin .* over 255"),
        ({"openid_configuration_url": "https://lms.example:99999/x"}, "not a valid URL"),
    ],
)
def test_bad_fields_are_refused(
    store: RegistrationStore, overrides: Dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        added(store, 1, **overrides)
    assert store.count() == 0


def test_delete_and_unknown_ids(store: RegistrationStore) -> None:
    kept, gone = added(store, 1), added(store, 2)

    store.delete(gone.id)

    assert store.all() == [kept]
    for attempt in (
        lambda: store.get(gone.id),
        lambda: store.delete(gone.id),
        lambda: store.update(gone.id, status="active"),
        lambda: store.update(gone.id),
    ):
        with pytest.raises(UnknownRegistration, match=f"no registration with id {gone.id}"):
            attempt()


def test_count_by_status(store: RegistrationStore) -> None:
    for n, status in enumerate(["pending", "active", "active", "disabled"]):
        added(store, n, status=status)

    assert store.count() == 4
    assert [store.count(s) for s in ("pending", "active", "disabled")] == [1, 2, 1]


# -- generation ------------------------------------------------------------------------


def test_generation_counts_every_write_and_no_read(
    store: RegistrationStore, open_store: Callable[..., RegistrationStore]
) -> None:
    other_process = open_store()
    start = store.generation()
    steps: List[Tuple[str, int]] = []

    def after(label: str) -> None:
        steps.append((label, store.generation() - start))

    stored = added(store, 1)
    after("add")
    for read in (lambda: store.get(stored.id), store.all, store.count, store.generation):
        read()
    after("reads")
    with pytest.raises(DuplicateRegistration):
        added(store, 1)
    after("refused add")
    store.update(stored.id, status="active")
    after("update")
    store.update(stored.id)
    after("update of nothing")
    store.add_many([{"issuer": "https://b.example", "client_id": "b", "name_hint": "b"}])
    store.add_many([])
    after("add_many")
    store.delete(stored.id)
    with pytest.raises(UnknownRegistration):
        store.delete(stored.id)
    after("delete")

    assert steps == [
        ("add", 1),
        ("reads", 1),
        ("refused add", 1),
        ("update", 2),
        ("update of nothing", 2),
        ("add_many", 3),
        ("delete", 4),
    ]
    assert other_process.generation() == store.generation()


# -- restarts, concurrency, schema -----------------------------------------------------


def test_registrations_survive_a_restart(store_url: str) -> None:
    before = RegistrationStore(store_url)
    before.open()
    first = before.add(**FULL)
    before.update(first.id, status="disabled")
    added(before, 2)
    kept, generation = before.all(), before.generation()
    before.close()

    after = RegistrationStore(store_url)
    after.open()
    try:
        assert after.all() == kept
        assert after.generation() == generation
        assert after.schema_version == RegistrationStore.LATEST_SCHEMA
    finally:
        after.close()


def test_concurrent_adds_leave_a_consistent_store(
    store: RegistrationStore, open_store: Callable[..., RegistrationStore]
) -> None:
    """8 threads x 10 adds through two stores (two hub processes), half with one name."""
    stores = [store, open_store()]
    start = store.generation()
    threads, adds = 8, 10
    barrier = threading.Barrier(threads)

    def add_some(t: int) -> List[str]:
        barrier.wait(timeout=30)
        return [
            added(
                stores[t % 2],
                t * adds + i,
                name_hint="shared" if i % 2 else f"thread {t} add {i}",
            ).name
            for i in range(adds)
        ]

    with ThreadPoolExecutor(threads) as pool:
        names = [name for batch in pool.map(add_some, range(threads)) for name in batch]

    shared = threads * adds // 2
    assert len(set(names)) == threads * adds
    assert sorted(r.name for r in store.all()) == sorted(names)
    assert {n for n in names if n.startswith("shared")} == {"shared"} | {
        f"shared-{k}" for k in range(2, shared + 1)
    }
    assert store.generation() == start + threads * adds


def test_racing_adds_of_one_platform_store_it_once(
    store: RegistrationStore, open_store: Callable[..., RegistrationStore]
) -> None:
    stores = [store, open_store()]
    racers = 6
    barrier = threading.Barrier(racers)

    def register(n: int) -> Any:
        barrier.wait(timeout=30)
        try:
            return added(stores[n % 2], 1, name_hint=f"racer {n}")
        except DuplicateRegistration as e:
            return e

    with ThreadPoolExecutor(racers) as pool:
        outcomes = list(pool.map(register, range(racers)))

    winners = [o for o in outcomes if isinstance(o, StoredRegistration)]
    assert len(winners) == 1
    assert all(o.name == winners[0].name for o in outcomes if o not in winners)
    assert store.all() == winners


def test_concurrent_opens_of_a_fresh_database_apply_the_schema_once(store_url: str) -> None:
    stores = [RegistrationStore(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def open_it(store: RegistrationStore) -> int:
        barrier.wait(timeout=30)
        store.open()
        return store.schema_version

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            assert list(pool.map(open_it, stores)) == [1] * len(stores)
        assert stores[0].generation() == 0
    finally:
        for store in stores:
            store.close()
    assert schema_rows(store_url) == [(1, __version__)]


OPEN_WHEN_TOLD = """
import sys, time
from pathlib import Path
from ltiauthenticator.lti13._registration_store import RegistrationStore
url, ready, go = sys.argv[1:]
Path(ready).touch()
deadline = time.monotonic() + 60
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("never told to open")
    time.sleep(0.005)
store = RegistrationStore(url)
store.open()
print(store.schema_version)
store.close()
"""


def test_processes_open_a_fresh_sqlite_database_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    count = 4
    go = tmp_path / "go"
    # unmeasured: this process's tests run every line these processes run
    env = {**unmeasured_environment(), "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, url, str(tmp_path / f"ready{n}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(count)
    ]
    try:
        wait_until(
            lambda: all((tmp_path / f"ready{n}").exists() for n in range(count)),
            timeout=60,
            message="every process ready to open",
        )
        go.touch()
        results = [p.communicate(timeout=60) for p in processes]
    finally:
        for p in processes:
            p.kill()
            p.wait()

    outcomes = [(p.returncode, out.strip()) for p, (out, _) in zip(processes, results)]
    assert outcomes == [(0, "1")] * count, [err for _, err in results]
    assert schema_rows(url) == [(1, __version__)]


def test_a_newer_schema_is_refused(store: RegistrationStore, store_url: str) -> None:
    with bypassing_the_store(store_url) as engine, engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lti_schema (version, package_version, applied_at) "
                "VALUES (2, '9.9.9', CURRENT_TIMESTAMP)"
            )
        )

    with pytest.raises(StoreSchemaError) as refused:
        RegistrationStore(store_url).open()

    message = str(refused.value)
    assert "schema version 2" in message and "9.9.9" in message
    assert f"this is {__version__}" in message and "upgrade" in message


# -- bulk --------------------------------------------------------------------------------


def test_add_many_stores_ten_thousand(store: RegistrationStore) -> None:
    start = store.generation()
    rows = [
        {
            "issuer": f"https://lms{n}.example",
            "client_id": f"client-{n}",
            "name_hint": f"course {n % 100}",
            "deployment_ids": [str(n)],
            "openid_configuration_url": f"https://lms{n}.example/openid",
        }
        for n in range(10_000)
    ]

    assert store.add_many(rows) == 10_000

    stored = store.all()
    assert [r.client_id for r in stored] == [row["client_id"] for row in rows]
    assert [r.id for r in stored] == sorted(r.id for r in stored)
    assert len({r.name for r in stored}) == 10_000
    assert stored[-1].name == "course-99-100"
    assert stored[-1].deployment_ids == ("9999",)
    assert store.count("pending") == 10_000
    assert store.generation() == start + 1


def test_concurrent_add_many_of_one_name_gives_every_row_its_own(
    store: RegistrationStore, open_store: Callable[..., RegistrationStore]
) -> None:
    stores = [store, open_store()]
    barrier = threading.Barrier(len(stores))

    def seed(n: int) -> int:
        barrier.wait(timeout=30)
        return stores[n].add_many(
            {"issuer": f"https://lms{n}-{i}.example", "client_id": "c", "name_hint": "seed"}
            for i in range(50)
        )

    with ThreadPoolExecutor(len(stores)) as pool:
        assert list(pool.map(seed, range(len(stores)))) == [50, 50]

    assert sorted(r.name for r in store.all()) == sorted(
        ["seed"] + [f"seed-{k}" for k in range(2, 101)]
    )


def test_add_many_is_all_or_nothing(store: RegistrationStore) -> None:
    existing = added(store, 1, name_hint="first")
    fresh = {"issuer": "https://new.example", "client_id": "new", "name_hint": "new"}

    with pytest.raises(DuplicateRegistration, match="'first'"):
        store.add_many([fresh, {"issuer": existing.issuer, "client_id": existing.client_id,
                                "name_hint": "again"}])  # fmt: skip
    with pytest.raises(DuplicateRegistration, match="'new'"):
        store.add_many([fresh, {**fresh, "name_hint": "twin"}])
    with pytest.raises(DuplicateRegistration, match="'new'"):
        store.add_many(
            [
                {**fresh, "openid_configuration_url": "https://new.example/a"},
                {**fresh, "client_id": "x", "openid_configuration_url": "https://new.example/b"},
            ]
        )
    with pytest.raises(TypeError, match="colour"):
        store.add_many([{**fresh, "colour": "blue"}])

    assert store.all() == [existing]


# -- refusals before and after opening ---------------------------------------------------


#: Bad store URLs; ``{port}`` is a free loopback port (nothing listens there), filled in
#: when the test runs so that every pytest-xdist worker collects the same test ids.
BAD_URLS = [
    "nosuchdb://admin:s3cret@db.example/lti",
    "postgresql+psycopg://admin:s3cret@127.0.0.1:{port}/lti",
    "postgresql+psycopg://admin:s3@cret@127.0.0.1:{port}/lti",
    "postgresql+psycopg://127.0.0.1:{port}/lti?user=admin&password=s3cret",
    "not a url admin:s3cret@",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_url_is_refused_without_its_password(url: str) -> None:
    store = RegistrationStore(url.replace("{port}", str(free_port())))

    with pytest.raises(RegistrationStoreError) as refused:
        store.open()

    error = refused.value
    logged = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "s3" not in logged + repr(store) and "cret" not in logged + repr(store)
    assert "***" in logged


def test_sqlite_needs_an_existing_directory_and_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(RegistrationStoreError, match=f"{missing} .*does not exist: create it"):
        RegistrationStore(f"sqlite:///{missing}/registrations.sqlite").open()
    assert not missing.exists()
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:r?mode=memory&uri=true"):
        with pytest.raises(RegistrationStoreError, match="in-memory"):
            RegistrationStore(url).open()


def test_a_sqlite_uri_names_a_file(tmp_path: Path) -> None:
    store = RegistrationStore(f"sqlite:///file:{tmp_path}/uri.sqlite?uri=true")
    store.open()
    try:
        added(store, 1)
    finally:
        store.close()
    assert (tmp_path / "uri.sqlite").exists()


def test_a_relative_sqlite_path_is_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = RegistrationStore("sqlite:///lti_registrations.sqlite")
    store.open()
    try:
        added(store, 1)
    finally:
        store.close()
    assert (tmp_path / "lti_registrations.sqlite").exists()


def test_a_store_must_be_open(store_url: str) -> None:
    store = RegistrationStore(store_url)
    for attempt in (store.all, store.generation, lambda: store.schema_version):
        with pytest.raises(RegistrationStoreError, match="call open"):
            attempt()
    store.open()
    store.open()  # idempotent
    store.close()
    store.close()
    with pytest.raises(RegistrationStoreError, match="call open"):
        store.count()


def test_the_clock_must_be_timezone_aware(store_url: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RegistrationStore(store_url, clock=lambda: datetime(2030, 1, 1)).open()


def test_a_lost_database_is_a_store_error(
    postgres_server: PostgresServer, fresh_postgres_url: str
) -> None:
    store = RegistrationStore(fresh_postgres_url)
    store.open()
    try:
        added(store, 1)
        postgres_server.drop_database(make_url(fresh_postgres_url).database)

        with pytest.raises(RegistrationStoreError, match="failed: .*does not exist"):
            store.count()
    finally:
        store.close()
