"""Real-browser launches: Debian's Chromium, an https LMS and an https hub on two sites.

* ``lms.test`` (the platform emulator, tornado with TLS) and ``hub.test`` (JupyterHub,
  TLS on configurable-http-proxy) are different sites; Chromium maps both names to
  127.0.0.1 (``--host-resolver-rules``) and accepts the self-signed test certificate
  generated here (``--ignore-certificate-errors``).
* The hub fetches the platform's keys from ``https://127.0.0.1:<port>/jwks`` — the same
  TLS server, reached by IP because the hub process cannot resolve ``lms.test`` — and
  trusts the test certificate through ``SSL_CERT_FILE`` in its environment only.
* Nothing is downloaded: selenium uses /usr/bin/chromedriver and /usr/bin/chromium
  (``SE_OFFLINE=true`` keeps selenium-manager offline).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import ssl
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from selenium.common.exceptions import WebDriverException

from ltiauthenticator.platform_emulator import EmulatedPlatform, ToolRegistration, make_app

from ..conftest import render_config
from ..support.chromium import new_chromium
from ..support.emulator import EmulatorServer
from ..support.hub import Hub, HubPool, free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CLIENT_ID = "jupyterhub-tool"


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """A self-signed certificate for lms.test, hub.test, localhost and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ltiauthenticator test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("lms.test"),
                    x509.DNSName("hub.test"),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {"cert": str(cert_path), "key": str(key_path)}


# -- the LMS ----------------------------------------------------------------------------------


def browser_tool(hub_url: str) -> ToolRegistration:
    """The tool as the LMS registered it: the https hub at ``hub_url``."""
    return ToolRegistration(
        client_id=CLIENT_ID,
        login_url=f"{hub_url}/hub/lti13/oauth_login",
        redirect_uris=[f"{hub_url}/hub/lti13/oauth_callback"],
        # a page that needs no single-user server: the tests stay fast
        target_link_uri=f"{hub_url}/hub/home",
    )


class TLSEmulator(EmulatorServer):
    """The platform emulator over https as ``https://lms.test:<port>``."""

    def __init__(self, port: int, hub_url: str, tls: Dict[str, str]) -> None:
        self.tls = tls
        self.port = port
        self.url = f"https://lms.test:{port}"
        self.platform = EmulatedPlatform(self.url, browser_tool(hub_url))
        import threading

        self._loop = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tls-emulator")

    @property
    def jwks_url(self) -> str:  # what the hub fetches: by IP, same TLS server
        return f"https://127.0.0.1:{self.port}/jwks"

    def _run(self) -> None:
        import asyncio

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls["cert"], self.tls["key"])
        server = make_app(self.platform).listen(self.port, address="127.0.0.1", ssl_options=context)
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.stop()


@pytest.fixture(scope="package")
def lms(tls: Dict[str, str]) -> Iterator[TLSEmulator]:
    # the hub it launches into is set by each test's https_hub (one hub per config)
    server = TLSEmulator(free_port(), "https://hub.test:1", tls)
    server.start()
    yield server
    server.stop()


# -- the hub ----------------------------------------------------------------------------------


class TLSHub(Hub):
    """JupyterHub serving https (certificate on the proxy), as ``https://hub.test:<port>``."""

    # started from scratch: tornado reads SSL_CERT_FILE (below) into its TLS defaults when
    # it is imported, and the fork server imported it before any hub's environment was set
    forked = False

    def __init__(self, port: int, workdir: Path, config: str, name: str, tls: Dict[str, str]):
        super().__init__(port, workdir, config, name)
        self.tls = tls
        self.url = f"https://127.0.0.1:{port}"
        self.verify = tls["cert"]
        self.public_url = f"https://hub.test:{port}"

    def config_text(self) -> str:
        return (
            super().config_text()
            + f"c.JupyterHub.ssl_cert = {self.tls['cert']!r}\n"
            + f"c.JupyterHub.ssl_key = {self.tls['key']!r}\n"
            + "c.JupyterHub.redirect_to_server = False\n"
        )

    def environment(self) -> Dict[str, str]:
        # trust the test LMS's certificate (for the JWKS fetch), in the hub process only
        return dict(super().environment(), SSL_CERT_FILE=self.tls["cert"])


@pytest.fixture(scope="package")
def tls_hub_pool(
    tmp_path_factory: pytest.TempPathFactory, tls: Dict[str, str]
) -> Iterator[HubPool]:
    """One https hub process per configuration (allow_iframe on, off), each started once."""
    pool = HubPool(
        tmp_path_factory.mktemp("browserhubs"),
        lambda port, workdir, config, name: TLSHub(port, workdir, config, name, tls),
    )
    yield pool
    pool.stop()


@pytest.fixture
def https_hub(tls_hub_pool: HubPool, lms: TLSEmulator) -> Iterator[Any]:
    """Factory: an https hub trusting the LMS, with ``allow_iframe`` on or off.

    ``allow_iframe`` changes the hub's application at start-up, so each setting has a
    hub process of its own; the LMS launches into the one the test asked for, and the
    hub's ``log_text()`` shows what it logged during this test only.
    """
    tool = lms.platform.tool
    used: List[Hub] = []

    def config(allow_iframe: bool) -> str:
        return render_config(
            {
                "LTI13Authenticator": {
                    "issuer": lms.url,
                    "client_id": [CLIENT_ID],
                    "authorize_url": lms.url + "/authorize",
                    "jwks_endpoint": lms.jwks_url,
                    "allow_iframe": allow_iframe,
                    "frame_origins": [lms.url],
                }
            }
        )

    def start(allow_iframe: bool = False) -> TLSHub:
        # the browser tests use both settings: both hubs start side by side, once
        hubs = tls_hub_pool.get_all([config(False), config(True)])
        hub = hubs[1] if allow_iframe else hubs[0]
        lms.platform.tool = browser_tool(hub.public_url)
        hub.begin_test()
        used.append(hub)
        return hub

    yield start
    lms.platform.tool = tool
    for hub in used:
        hub.end_test()


# -- the browser -------------------------------------------------------------------------------


class Browser:
    """A headless Chromium with a profile of its own, plus helpers for the assertions."""

    def __init__(self, driver: Any, profile: Path) -> None:
        self.driver = driver
        self.profile = profile

    def empty(self) -> None:
        """As fresh as a new profile for the tests here: see :class:`BrowserPool`."""
        driver = self.driver
        old = driver.window_handles
        driver.switch_to.new_window("tab")
        tab = driver.current_window_handle
        for handle in old:
            driver.switch_to.window(handle)
            driver.close()
        driver.switch_to.window(tab)
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        left = driver.execute_cdp_cmd("Storage.getCookies", {}).get("cookies", [])
        assert left == [], f"cookies survived clearing: {left}"

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def wait_for(self, condition: Any, timeout: float = 20, message: str = "") -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition, message)

    def location(self) -> str:
        """The current document's URL (of the frame switched to, if any)."""
        return self.driver.execute_script("return document.location.href")

    def fetch_json(self, path: str) -> Dict[str, Any]:
        """GET ``path`` from the current (hub) page, with its cookies: status and body."""
        return self.driver.execute_async_script(
            """
            var done = arguments[arguments.length - 1];
            // JupyterHub wants its xsrf token (the _xsrf cookie) with cookie-authenticated
            // API calls
            var match = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
            var headers = {"X-XSRFToken": match ? decodeURIComponent(match[1]) : ""};
            fetch(arguments[0], {credentials: "same-origin", headers: headers}).then(function (r) {
              return r.text().then(function (t) { done({status: r.status, body: t}); });
            }).catch(function (e) { done({status: 0, body: String(e)}); });
            """,
            path,
        )

    def cookies_for(self, url: str) -> List[Dict[str, Any]]:
        """Every cookie the browser holds for ``url``, partitioned ones included (CDP)."""
        result = self.driver.execute_cdp_cmd("Storage.getCookies", {})
        host = url.split("://", 1)[1].split(":")[0].split("/")[0]
        return [c for c in result.get("cookies", []) if c["domain"].lstrip(".") == host]


def make_browser(
    tmp_path: Path,
    *,
    cookie_controls_mode: int = 0,
    block_all_cookies: bool = False,
    extra_args: Optional[List[str]] = None,
) -> Browser:
    prefs: Dict[str, Any] = {"profile.cookie_controls_mode": cookie_controls_mode}
    if block_all_cookies:
        prefs["profile.default_content_setting_values.cookies"] = 2
    profile = tmp_path / "chromium-profile"
    driver = new_chromium(
        profile,
        extra_args=[
            "--ignore-certificate-errors",
            "--host-resolver-rules=MAP lms.test 127.0.0.1, MAP hub.test 127.0.0.1",
            *(extra_args or []),
        ],
        prefs=prefs,
        driver_log=tmp_path / "chromedriver.log",
    )
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(15)
    return Browser(driver, profile)


def settings_key(settings: Dict[str, Any]) -> str:
    """The settings of :func:`make_browser`, defaults filled in: equal settings, equal key."""
    defaults = {"cookie_controls_mode": 0, "block_all_cookies": False, "extra_args": []}
    return json.dumps({**defaults, **settings}, sort_keys=True)


class BrowserPool:
    """One Chromium per setting for the whole package, emptied before each test.

    Starting a Chromium costs about 1.2 s of CPU; the tests here use four settings. A
    browser handed to a test again has no cookies (partitioned ones included: checked),
    an empty HTTP cache, and one new tab (so no sessionStorage); no test here relies on
    other web storage (the hub's pages use none). A browser that no longer answers is
    replaced by a fresh one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.browsers: Dict[Any, Browser] = {}
        self._made = 0

    def get(self, **settings: Any) -> Browser:
        key = settings_key(settings)
        browser = self.browsers.get(key)
        if browser is not None:
            try:
                browser.empty()
                return browser
            except WebDriverException:  # it crashed, say; cookies left over fail the test
                self._quit(browser)
        self.browsers[key] = browser = self.fresh(**settings)
        return browser

    def fresh(self, **settings: Any) -> Browser:
        self._made += 1
        return make_browser(self.directory / f"b{self._made}", **settings)

    def stop(self) -> None:
        for browser in self.browsers.values():
            self._quit(browser)
        self.browsers.clear()

    @staticmethod
    def _quit(browser: Browser) -> None:
        try:
            browser.driver.quit()
        finally:
            shutil.rmtree(browser.profile, ignore_errors=True)


@pytest.fixture(scope="package")
def browser_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserPool]:
    pool = BrowserPool(tmp_path_factory.mktemp("browsers"))
    yield pool
    pool.stop()


@pytest.fixture
def browser_factory(browser_pool: BrowserPool) -> Iterator[Any]:
    """Factory: an empty browser with the given settings (see :func:`make_browser`).

    A second browser with the same settings in one test is a fresh one of its own.
    """
    taken: List[str] = []
    extra: List[Browser] = []

    def make(**settings: Any) -> Browser:
        key = settings_key(settings)
        if key in taken:
            extra.append(browser_pool.fresh(**settings))
            return extra[-1]
        taken.append(key)
        return browser_pool.get(**settings)

    yield make
    for browser in extra:
        BrowserPool._quit(browser)


def hub_user(hub: TLSHub, name: str) -> Optional[Dict[str, Any]]:
    response = hub.api("GET", f"/users/{name}")
    return None if response.status_code == 404 else response.json()


def dump(value: Any) -> str:
    return json.dumps(value, indent=1)[:3000]
