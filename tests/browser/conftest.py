"""JupyterLab in a real browser: a Lab server on loopback and headless Chromium driven by Playwright.

The browser is Debian's `chromium` (`apt-get install chromium`, which `.ci/run` does), driven by
the Python `playwright` package through `executable_path`; Playwright's own browser download is
never used. Without either, every browser test is skipped and says which one is missing.

`lab_server(root, theme=...)` starts `jupyter lab` on 127.0.0.1 with a random token, in a folder
of the test's choosing, with settings of its own (no news pop-ups, the chosen theme) and the
working tree's packages on the kernel's path; it is stopped when the test ends. Screenshots go
to `tests/artifacts/browser/` (git-ignored), where a person can look at them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import _released_template  # noqa: F401 (the tiny course, released)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "the Python package playwright is not installed "
            "(.venv/bin/pip install playwright; no `playwright install` is needed)"
        )
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, shared by the browser tests of one session."""
    reason = _missing_browser()
    if reason is not None:
        pytest.skip(f"browser tests need Chromium and Playwright: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser page with a laptop-sized window; closed after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)  # a busy 2-core machine starts kernels slowly
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str, **kwargs) -> Path:
    """Save a PNG of the page (or `locator=` an element) to tests/artifacts/browser/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator = kwargs.pop("locator", None)
    (locator or page).screenshot(path=str(path), **kwargs)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _jupyter() -> list[str]:
    return [str(Path(sys.executable).parent / "jupyter"), "lab"]


@dataclass
class LabServer:
    """A running JupyterLab: `url(path)` gives an address with the token."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log: Path

    def url(self, path: str = "lab") -> str:
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{separator}token={self.token}"

    def shutdown_kernels(self) -> None:
        """Stop every kernel of the server (an earlier test's notebook), so they do not compete."""
        with urllib.request.urlopen(self.url("api/kernels"), timeout=10) as response:
            kernels = json.load(response)
        for kernel in kernels:
            request = urllib.request.Request(
                self.url(f"api/kernels/{kernel['id']}"), method="DELETE"
            )
            urllib.request.urlopen(request, timeout=30).close()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _write_settings(settings_dir: Path, theme: str) -> None:
    """User settings: the theme, no news or update checks (no pop-ups, no network), all cells."""
    apputils = settings_dir / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Every cell in the DOM (Lab 4 otherwise renders only the cells in view).
    notebook = settings_dir / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True, exist_ok=True)
    (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """Start JupyterLab in a folder: `lab_server(root, theme=LIGHT) -> LabServer`.

    A server asked for again with the same folder and theme is reused within a test module;
    all are stopped at the module's end.
    """
    started: dict[tuple[Path, str], LabServer] = {}
    tmp_path = tmp_path_factory.mktemp("lab")

    def start(root: Path, theme: str = LIGHT) -> LabServer:
        if (Path(root), theme) in started:
            return started[Path(root), theme]
        home = tmp_path / f"lab-home-{len(started)}"
        settings = home / "settings"
        _write_settings(settings, theme)
        port, token = _free_port(), secrets.token_hex(16)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MPLBACKEND", "JUPYTER_CONFIG_DIR")
        }
        env.update(
            {
                "JUPYTERLAB_SETTINGS_DIR": str(settings),
                "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
                "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                "JUPYTER_CONFIG_DIR": str(home / "config"),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
                "CNN_COURSE_FAST": "1",
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            }
        )
        log = home / "lab.log"
        with log.open("w") as log_file:
            process = subprocess.Popen(
                [
                    *_jupyter(),
                    "--no-browser",
                    "--ServerApp.ip=127.0.0.1",
                    f"--ServerApp.port={port}",
                    "--ServerApp.port_retries=0",
                    f"--IdentityProvider.token={token}",
                    f"--ServerApp.root_dir={root}",
                    "--LabApp.news_url=",
                    "--allow-root",  # CI runs as root
                ],
                cwd=root,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = LabServer(Path(root), port, token, process, log)
        started[Path(root), theme] = server
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(server.url("api/status"), timeout=2) as response:
                    if response.status == 200:
                        return server
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start on port {port}:\n{server.log_tail()}")
            time.sleep(0.3)

    yield start
    for server in started.values():
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGTERM)
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder of this session's screenshots, emptied first."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS
