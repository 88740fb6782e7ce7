"""The browser tests' harness: a real longrun (`longrun api` and `longrun worker` on a SQLite
file, against the suite's Temporal dev server or one of their own, the offline model priced so
that runs cost something), a workspace with an admin and a member user, and Debian's Chromium
driven by Playwright (`executable_path`: nothing downloads a browser).

Run through `scripts/test-console` (which installs what is missing); the environment:
LONGRUN_BINARY (the longrun binary), LONGRUN_CHROMIUM (the browser; unset or empty: the tests
are skipped, never passed), LONGRUN_TEST_TEMPORAL_ADDRESS (use that Temporal server),
LONGRUN_CONSOLE_SCREENSHOTS (a folder: the screenshots go there).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ADMIN_EMAIL = "ada@example.com"
MEMBER_EMAIL = "grace@example.com"
PASSWORD = "console-test-password"
SLUG = "console"
OTHER_SLUG = "elsewhere"
# How long a test waits for something the page should show.
TIMEOUT_MS = 30_000

PRICES = """
[[prices.models]]
model = "offline/demo"
effective_from = "2020-01-01"
input_per_mtok = 1000.0
output_per_mtok = 2000.0
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(what, check, timeout=60.0, every=0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class Longrun:
    """The processes under test, and a small client of their API."""

    def __init__(self, binary, work, temporal):
        self.binary = binary
        self.work = Path(work)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = self.work / "longrun.toml"
        config.write_text(PRICES)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.work)),
            "LONGRUN_DATABASE_URL": f"sqlite://{self.work}/longrun.db",
            "LONGRUN_DATA_DIR": str(self.work / "data"),
            "LONGRUN_TEMPORAL_ADDRESS": temporal,
            "LONGRUN_TASK_QUEUE": f"console-{secrets.token_hex(6)}",
            "LONGRUN_JWT_SECRET": secrets.token_hex(32),
            "LONGRUN_TEMPORAL_UI_URL": "http://127.0.0.1:8233",
            "LONGRUN_LOG_FORMAT": "json",
            "LONGRUN_SHUTDOWN_GRACE_S": "2",
            "RUST_LOG": "info",
        }
        self.config = ["--config", str(config)]
        self.api = None
        self.worker = None

    def run(self, *args, stdin=None, extra=None):
        env = dict(self.env, **(extra or {}))
        done = subprocess.run(
            [self.binary, *self.config, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"longrun {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start_api(self):
        log = open(self.work / "api.log", "a")
        env = dict(self.env, LONGRUN_LISTEN=f"127.0.0.1:{self.port}", LONGRUN_METRICS_LISTEN=f"127.0.0.1:{free_port()}")
        self.api = subprocess.Popen([self.binary, *self.config, "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until("the API to answer", lambda: self.api.poll() is None and self.ready(), timeout=60)

    def stop_api(self):
        self.api.send_signal(signal.SIGTERM)
        self.api.wait(timeout=30)

    def start_worker(self):
        log_path = self.work / "worker.log"
        log = open(log_path, "a")
        env = dict(self.env, LONGRUN_METRICS_LISTEN=f"127.0.0.1:{free_port()}")
        self.worker = subprocess.Popen([self.binary, *self.config, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until("the worker to poll", lambda: '"worker polling"' in log_path.read_text(), timeout=60)

    def ready(self):
        try:
            with urllib.request.urlopen(f"{self.base}/readyz", timeout=2):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def call(self, method, path, key=None, body=None):
        """`method path` with an API key: (status, JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        if body is not None:
            request.add_header("content-type", "application/json")
        if key:
            request.add_header("authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text else None)

    def submit(self, key, agent, text):
        status, run = self.call("POST", "/v1/runs", key, {"agent": agent, "input": text})
        assert status == 202, run
        return run["id"]

    def wait_for_status(self, key, run_id, wanted, timeout=60):
        def reached():
            _, run = self.call("GET", f"/v1/runs/{run_id}", key)
            return run if run["status"] == wanted else None

        return wait_until(f"run {run_id} to be {wanted}", reached, timeout=timeout, every=0.2)

    def close(self):
        for process in (self.api, self.worker):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.api, self.worker):
            if process:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def start_temporal(work):
    cli = os.environ.get("LONGRUN_TEMPORAL_CLI", ".venv/bin/temporal")
    port = free_port()
    log = open(Path(work) / "temporal.log", "w")
    process = subprocess.Popen(
        [cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port), "--log-level", "error",
         *[arg for name in ("Workspace", "Agent", "Tier", "Status") for arg in ("--search-attribute", f"Longrun{name}=Keyword")]],
        stdout=log, stderr=subprocess.STDOUT,
    )
    wait_until("the Temporal dev server", lambda: answers(port), timeout=60, every=0.2)
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def longrun():
    binary = os.environ.get("LONGRUN_BINARY")
    assert binary and os.access(binary, os.X_OK), "LONGRUN_BINARY must name the longrun binary (scripts/test-console sets it)"
    work = tempfile.mkdtemp(prefix="longrun-console-")
    temporal_process = None
    temporal = os.environ.get("LONGRUN_TEST_TEMPORAL_ADDRESS")
    if not temporal:
        temporal_process, temporal = start_temporal(work)
    app = Longrun(binary, work, temporal)
    failed = True
    try:
        app.run("migrate")
        app.start_api()
        app.start_worker()
        created = app.run("admin", "workspace", "create", SLUG, "--tier", "pro", "--name", "Acme Research")
        app.admin_key = created.split("API key (shown once): ")[1].strip()
        app.run("admin", "user", "add", SLUG, ADMIN_EMAIL, "--role", "admin", extra={"LONGRUN_USER_PASSWORD": PASSWORD})
        # The member's password arrives on standard input, as an operator would type it.
        app.run("admin", "user", "add", SLUG, MEMBER_EMAIL, "--role", "member", stdin=PASSWORD + "\n")
        for agent in (
            {"name": "demo", "model": "offline/demo", "system_prompt": "Use the calculator.", "tools": ["calculator"]},
            {"name": "gated", "model": "offline/demo", "tools": [{"name": "calculator", "requires_approval": True}]},
            {"name": "asker", "model": "offline/demo", "tools": ["calculator"], "await_input": True},
        ):
            status, body = app.call("POST", "/v1/agents", app.admin_key, agent)
            assert status == 201, body
        other = app.run("admin", "workspace", "create", OTHER_SLUG, "--tier", "pro")
        app.other_key = other.split("API key (shown once): ")[1].strip()
        status, body = app.call("POST", "/v1/agents", app.other_key, {"name": "demo", "model": "offline/demo"})
        assert status == 201, body
        yield app
        failed = False
    finally:
        app.close()
        if temporal_process:
            temporal_process.terminate()
            temporal_process.wait(timeout=30)
        if failed or os.environ.get("LONGRUN_CONSOLE_KEEP_LOGS"):
            print(f"console tests: logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("LONGRUN_CHROMIUM", "")
    if not executable:
        pytest.skip("Chromium is not installed (Debian package chromium): the browser tests cannot run")
    from playwright.sync_api import expect, sync_playwright

    # On a busy machine a page can take longer than Playwright's default 5 s to show a change.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def watched(page):
    """Records on `page.problems` every uncaught script error and Content-Security-Policy
    violation (the console runs under a policy without inline script)."""
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: page.problems.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return page


@pytest.fixture
def page(context):
    """A fresh page, signed out; its test fails on a script error or a policy violation."""
    page = watched(context.new_page())
    yield page
    assert not page.problems, page.problems


def sign_in(page, base, email, password=PASSWORD):
    page.goto(f"{base}/console/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


@pytest.fixture(scope="session")
def admin_session(browser, longrun):
    """The admin's signed-in browser state (the session cookie), signed in once: sign-in is
    limited to 20 attempts a minute per address, as an attacker's would be."""
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, longrun.base, ADMIN_EMAIL)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def admin(browser, longrun, admin_session):
    """A page of a browser signed in as the workspace's admin."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, storage_state=admin_session)
    context.set_default_timeout(TIMEOUT_MS)
    page = watched(context.new_page())
    page.goto(f"{longrun.base}/console/")
    page.get_by_role("button", name="Sign out").wait_for()
    yield page
    context.close()
    assert not page.problems, page.problems


@pytest.fixture
def screenshot():
    """Saves a screenshot of a page as `name`.png into LONGRUN_CONSOLE_SCREENSHOTS (the docs'
    folder when the docs are refreshed), else into a temporary folder; either way it must be a
    real picture."""
    folder = os.environ.get("LONGRUN_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="longrun-console-shots-")
    os.makedirs(folder, exist_ok=True)

    def take(page, name, **options):
        path = Path(folder) / f"{name}.png"
        page.screenshot(path=str(path), **options)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000, path

    return take
