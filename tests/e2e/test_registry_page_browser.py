"""The registry page inside the Airflow UI, against a real `airflow api-server` on 127.0.0.1
(SimpleAuthManager with a real user, not all-admins) and headless Chromium driven over the DevTools
protocol: no page without a login, the logged-in page lists the versions and the deployment state, and a
screenshot of the page in Airflow's frame is kept (test-artifacts/registry-page.png)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR
from tests.e2e import servers
from tests.e2e.test_data_docs import distinct_colours

pytestmark = pytest.mark.e2e
ARTIFACTS = PROJECT_DIR / "test-artifacts"


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0  # not listening yet


class Browser:
    """Headless Chromium over the DevTools protocol: set the UI's login cookie, open a page, read its DOM,
    take a screenshot. Started with a fresh profile; stopped with its process group."""

    def __init__(self, profile: Path) -> None:
        chromium = shutil.which("chromium")
        if chromium is None:
            pytest.fail("chromium is not installed; scripts/test.sh installs it (apt-get install chromium)")
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ]
        self.process = subprocess.Popen(
            [
                chromium,
                *flags,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=20) as response:
            target = json.loads(response.read())
        from websockets.sync.client import connect

        self.socket = connect(target["webSocketDebuggerUrl"], max_size=None)
        self.ids = itertools.count(1)

    def send(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv(timeout=60))
            if reply.get("id") == message_id:
                assert "error" not in reply, reply
                return reply["result"]

    def open(self, url: str, settle: float = 3.0) -> None:
        self.send("Page.enable")
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while self.evaluate("document.readyState") != "complete":
            assert time.monotonic() < deadline, f"{url} did not load"
            time.sleep(0.3)
        time.sleep(settle)  # let the UI's scripts render

    def evaluate(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.socket.close()
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


@pytest.fixture
def registry_with_a_canary(airflow, params):
    from retrainer.core.settings import Settings
    from retrainer.deployment import actions
    from retrainer.registry.aliases import CHALLENGER, CHAMPION
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage
    from tests.deploy_helpers import register

    storage = open_storage(Settings.from_env({"RETRAINER_VAR_DIR": str(airflow.var)}).storage_root)
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"first", alias=CHAMPION)
    register(registry, params, b"second", alias=CHALLENGER)
    actions.start_canary(registry, 2, "alice", "try it on a few customers", params)
    return registry


@pytest.fixture
def api_server(airflow, registry_with_a_canary):
    with servers.api_server(airflow) as base:
        yield base


def test_the_registry_page_needs_a_login_and_shows_versions_and_deployment(api_server, tmp_path):
    base = api_server
    report = "/registry/versions/1/report.html?model=fraud-xgb"
    for path in ("/registry/", "/registry/versions?model=fraud-xgb", report):
        assert _status(base + path) == 401, path  # no token, no cookie
        assert _status(base + path, token="not-a-jwt") == 403, path
    token = servers.viewer_token(base)
    assert _status(f"{base}/registry/", token) == 200
    assert _status(f"{base}/registry/versions?model=no-such-model", token) == 404
    views = urllib.request.Request(f"{base}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(views, timeout=20) as response:
        plugins = json.loads(response.read())["plugins"]
    [view] = [v for p in plugins for v in p.get("external_views", []) if v["name"] == "Model registry"]
    assert (view["url_route"], view["destination"]) == ("registry", "nav")

    browser = Browser(tmp_path / "profile")
    try:
        browser.open(f"{base}/registry/", settle=0)
        assert "Not authenticated" in browser.evaluate("document.body.innerText")  # no cookie yet
        # logged in as the UI is: its JWT in the `_token` cookie
        browser.send("Network.setCookie", name="_token", value=token, url=base, httpOnly=True)
        browser.open(f"{base}/registry/", settle=0)
        html = browser.evaluate("document.documentElement.outerHTML")
        assert "Model registry" in html and "v1" in html and "v2" in html
        assert "mode <b>canary</b>: champion <b>v1</b>, challenger <b>v2</b> deciding <b>5%</b>" in html
        assert "try it on a few customers" in html
        # the page inside Airflow's frame: the nav entry opens /plugin/registry
        browser.open(f"{base}/plugin/registry", settle=8)
        frame = browser.evaluate("[...document.querySelectorAll('iframe')].map(f => f.src).join(' ')")
        assert "/registry/" in frame, frame
        png = tmp_path / "registry-page.png"
        browser.screenshot(png)
    finally:
        browser.close()
    assert distinct_colours(png.read_bytes()) > 20  # a rendered page, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy2(png, ARTIFACTS / "registry-page.png")
