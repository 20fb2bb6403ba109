"""Console fixtures: a live API process (uvicorn, as `loyalflow api` runs it) serving the console,
on the real database (SQLite and PostgreSQL) and the Temporal dev server; users of each role;
and Debian's chromium driven by Playwright (never a downloaded browser)."""

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.config import Settings
from loyalflow.console.accounts import add_user
from tests.conftest import free_port
from tests.journey_helpers import only_journeys
from tests.processes import loyalflow_env, start, wait_for_http
from tests.smtp_server import SmtpServer
from tests.worker_helpers import worker_sending_to

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"
LOGIN_FAILURES = 3


@dataclass(frozen=True)
class Users:
    admin: str
    support: str
    marketer: str


@dataclass(frozen=True)
class LiveConsole:
    url: str  # http://127.0.0.1:<port>/console
    settings: Settings
    users: Users


@pytest.fixture
def console_settings(
    settings: Settings, tmp_path: Path, dev_server_env: WorkflowEnvironment
) -> Settings:
    chosen = only_journeys(settings, tmp_path / "journeys", "welcome")
    publish_versions(chosen.effective_database_url, get_catalog(chosen))
    address = dev_server_env.client.service_client.config.target_host
    return chosen.model_copy(
        update={"temporal_address": address, "console_login_failures": LOGIN_FAILURES}
    )


@pytest.fixture
def console_extra_env() -> dict[str, str]:
    """More environment for the console's API process; a test module may override it."""
    return {}


@pytest.fixture
def live_console(
    console_settings: Settings, tmp_path: Path, console_extra_env: dict[str, str]
) -> Iterator[LiveConsole]:
    # The database lives for the whole session: each test has users of its own.
    suffix = uuid.uuid4().hex[:6]
    users = Users(f"admin-{suffix}", f"support-{suffix}", f"marketer-{suffix}")
    url = console_settings.effective_database_url
    for name, role in (
        (users.admin, "admin"),
        (users.support, "support"),
        (users.marketer, "marketer"),
    ):
        add_user(url, name, role, PASSWORD)
    port = free_port()
    log = tmp_path / "api.log"
    env = loyalflow_env(
        console_settings,
        LOYALFLOW_API_PORT=str(port),
        LOYALFLOW_JOURNEYS_DIR=str(console_settings.journeys_dir),
        LOYALFLOW_CONSOLE_LOGIN_FAILURES=str(LOGIN_FAILURES),
        # Every test signs in from 127.0.0.1; the per-address limit has a test of its own.
        LOYALFLOW_CONSOLE_LOGIN_FAILURES_PER_IP="1000",
        **console_extra_env,
    )
    api = start(["api"], env, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", api, log, 60)
        yield LiveConsole(f"http://127.0.0.1:{port}/console", console_settings, users)
    finally:
        api.terminate()
        api.wait(timeout=30)


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment, console_settings: Settings, smtp_server: SmtpServer
) -> AsyncIterator[Worker]:
    """A real worker running the console's journeys, sending email to the test SMTP server."""
    async with worker_sending_to(dev_server_env.client, console_settings, smtp_server) as running:
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context(locale="en-GB")
    yield fresh
    await fresh.close()


async def sign_in(page: Page, console: LiveConsole, name: str, password: str = PASSWORD) -> None:
    await page.goto(f"{console.url}/login")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
