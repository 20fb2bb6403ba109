"""A journey's page in a real browser, against the live API and a real worker: its diagram's
counts on every step are the report API's (`GET /reports/journeys/{id}`), its experiment shows
the experiment API's verdict, the list shows runs in progress and the rollup's entries; two
versions' diff marks the changed lines; a broken journey file is shown with its file and line;
axe finds no serious or critical problem on these pages."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.analytics.rollup import rollup_day
from loyalflow.catalog.registry import get_catalog
from loyalflow.models.db import session_scope
from loyalflow.models.journey import Journey
from loyalflow.models.rollup_tables import DailyRollup
from loyalflow.models.tables import Enrollment, JourneyVersion
from tests.conftest import unique_member_id
from tests.console.conftest import AXE, LiveConsole, sign_in
from tests.journey_helpers import create_member, send_event, wait_for_timer

JOURNEY = "welcome"  # the live console's only journey: a split, two sends, a wait
BROKEN_FILE = """\
id: {id}
name: Broken on purpose
topic: onboarding
trigger:
  event: member.joined
steps:
  - id: pause_a_bit
    kind: wait
    duration: soon
"""


def api_report(console: LiveConsole, path: str, first: str, last: str) -> dict[str, Any]:
    api = console.url.removesuffix("/console")
    response = httpx.get(f"{api}{path}", params={"from": first, "to": last}, timeout=30)
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


async def figure(page: Page, step: str, name: str, channel: str | None = None) -> int:
    box = page.locator(f"[data-step='{step}']")
    if channel is not None:
        box = box.locator(f"[data-channel='{channel}']")
    return int(await box.locator(f"[data-figure='{name}']").first.inner_text())


async def figures_shown(page: Page) -> None:
    """The figures are computed in the background; the page polls until they are there."""
    await expect(page.locator("#figures[data-ready]")).to_be_attached(timeout=60_000)


def running_runs(console: LiveConsole, journey: str) -> int:
    with session_scope(console.settings.effective_database_url) as session:
        return session.exec(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.journey_id == journey, col(Enrollment.exited_at).is_(None))
        ).one()


async def test_a_marketer_sees_the_reports_counts_on_every_step_and_the_verdict(
    live_console: LiveConsole,
    context: BrowserContext,
    dev_server_env: WorkflowEnvironment,
    worker: Worker,
) -> None:
    settings = live_console.settings
    url = settings.effective_database_url
    member = unique_member_id("D")
    create_member(settings, member, email=f"{member.lower()}@example.com")
    assert await send_event(dev_server_env.client, settings, member, "member.joined")
    await wait_for_timer(dev_server_env.client, f"journey-{JOURNEY}-{member}")
    today = datetime.now(UTC).date()
    rollup_day(url, today)  # the list's entries come from the rollup
    first, last = (today - timedelta(days=29)).isoformat(), today.isoformat()

    # Other tests' runs may still enter and end on the shared dev server meanwhile: the list's
    # entries are the rollup's as stored, and the runs in progress lie between two counts.
    with session_scope(url) as session:
        rolled = session.exec(
            select(func.coalesce(func.sum(DailyRollup.entered), 0)).where(
                DailyRollup.journey_id == JOURNEY, DailyRollup.day == today
            )
        ).one()
    running_before = running_runs(live_console, JOURNEY)
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.marketer)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Journeys").click()
    row = page.get_by_role("row").filter(has_text=JOURNEY)
    cells = row.get_by_role("cell")
    assert int(await cells.nth(4).inner_text()) == rolled >= 1
    running_after = running_runs(live_console, JOURNEY)
    shown_running = int(await cells.nth(5).inner_text())
    assert min(running_before, running_after) <= shown_running <= max(running_before, running_after)
    assert shown_running >= 1

    await row.get_by_role("link", name=JOURNEY).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Journey {JOURNEY}")
    await figures_shown(page)
    report = api_report(live_console, f"/reports/journeys/{JOURNEY}", first, last)
    total = report["total"]
    assert await page.locator("dd[data-figure='entered']").inner_text() == str(total["entered"])
    steps = {s["step_id"]: s for s in total["steps"]}
    assert steps["wait_3_days"]["waiting_now"] >= 1  # our member waits there: counts can fail
    for step_id, step in steps.items():
        assert await figure(page, step_id, "reached") == step["reached"], step_id
        assert await figure(page, step_id, "waiting_now") == step["waiting_now"], step_id
    sends = total["sends"]
    assert any(s["step_id"] == "welcome_email" and s["sent"] >= 1 for s in sends)
    for send in sends:
        for name in ("sent", "opened", "clicked"):
            shown = await figure(page, send["step_id"], name, send["channel"])
            assert shown == send[name], (send["step_id"], send["channel"], name)
    # The diagram follows the graph: the split's arms lead to the email.
    await expect(page.locator("[data-step='subject_line_test'] .exits")).to_contain_text(
        "a 50% → welcome_email"
    )

    experiment = api_report(live_console, "/reports/experiments/welcome.subject_line", first, last)
    section = page.locator("section.experiment").filter(has_text="welcome.subject_line")
    await expect(section.locator(".verdict")).to_have_text(f"Verdict: {experiment['verdict']}")
    arms = section.locator("tbody tr")
    await expect(arms.locator("th")).to_have_text(
        [v["variant"] + (" (control)" if v["control"] else "") for v in experiment["variants"]]
    )
    await expect(arms.locator("td:first-of-type")).to_have_text(
        [str(v["entered"]) for v in experiment["variants"]]
    )


def publish_two_versions(console: LiveConsole) -> tuple[str, str, str]:
    """A journey of this test's own, published twice (its wait changed from 3 to 5 days) and
    with no file: (journey id, older version, newer version)."""
    journey_id = f"versioned_{uuid.uuid4().hex[:8]}"
    definition = get_catalog(console.settings).journeys[JOURNEY].model_dump(mode="json")
    definition["id"] = journey_id
    older = Journey.model_validate(definition)
    wait = next(s for s in definition["steps"] if s["id"] == "wait_3_days")
    wait["duration"] = "P5D"
    newer = Journey.model_validate(definition)
    published = datetime.now(UTC) - timedelta(days=2)
    with session_scope(console.settings.effective_database_url) as session:
        for n, journey in enumerate((older, newer)):
            session.add(
                JourneyVersion(
                    journey_id=journey_id,
                    version=journey.version,
                    definition=journey.model_dump(mode="json"),
                    published_at=published + timedelta(days=n),
                )
            )
    return journey_id, older.version, newer.version


async def test_the_page_says_computing_then_shows_the_figures_it_computed_in_the_background(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    """A period nobody looked at yet: the page answers at once, then polls for the figures."""
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.marketer)
    await page.goto(f"{live_console.url}/journeys/{JOURNEY}?from=2025-03-01&to=2025-03-31")
    await expect(page.locator("#figures .computing")).to_have_text("Computing the figures…")
    await figures_shown(page)
    await expect(page.locator("#figures .as-of")).to_contain_text("Figures as of")
    assert await page.locator("dd[data-figure='entered']").inner_text() == "0"


async def test_two_versions_diff_marks_the_changed_line(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    journey_id, older, newer = publish_two_versions(live_console)
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.marketer)
    await page.goto(f"{live_console.url}/journeys/{journey_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Journey {journey_id}")
    await expect(page.get_by_label("Compare version")).to_have_value(older)
    await expect(page.get_by_label("with version")).to_have_value(newer)
    await page.get_by_role("button", name="Compare").click()
    await expect(page.get_by_role("heading", name=f"From {older} to {newer}")).to_be_visible()
    await expect(page.locator("pre.diff .diff-removed")).to_have_text(["removed: -  duration: P3D"])
    await expect(page.locator("pre.diff .diff-added")).to_have_text(["added: +  duration: P5D"])
    # A version the journey never had: a 400 naming the field, not a 500.
    response = await page.goto(
        f"{live_console.url}/journeys/{journey_id}?from_version={older}&to_version=nope"
    )
    assert response is not None and response.status == 400
    await expect(page.get_by_role("main")).to_contain_text("Check the field: to_version")
    response = await page.goto(f"{live_console.url}/journeys?from=2026-02-30")
    assert response is not None and response.status == 400
    await expect(page.get_by_role("main")).to_contain_text("Check the field: from")


async def test_a_broken_journey_file_is_shown_with_its_file_and_line(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    journey_id = f"broken_{uuid.uuid4().hex[:8]}"
    (live_console.settings.journeys_dir / f"{journey_id}.yaml").write_text(
        BROKEN_FILE.format(id=journey_id), encoding="utf-8"
    )
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.marketer)
    await page.goto(f"{live_console.url}/journeys")
    problem = page.get_by_role("row").filter(has_text=f"{journey_id}.yaml")
    await expect(problem.get_by_role("cell")).to_have_text(
        [
            f"{journey_id}.yaml",
            "9",
            "15",
            "steps[0].duration: must be a duration such as 3d, 12h, 90m or 1w, not 'soon'",
        ]
    )
    # The journeys that run are still listed: they were loaded when the server started.
    await expect(page.get_by_role("link", name=JOURNEY)).to_be_visible()


async def test_axe_finds_no_serious_or_critical_problem_on_the_journeys_pages(
    live_console: LiveConsole, browser: Browser
) -> None:
    journey_id, older, newer = publish_two_versions(live_console)
    (live_console.settings.journeys_dir / "broken.yaml").write_text(
        BROKEN_FILE.format(id="broken"), encoding="utf-8"
    )
    # axe is injected as a script: this context alone lets it past the page's CSP.
    context = await browser.new_context(bypass_csp=True, locale="en-GB")
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.marketer)
    found: dict[str, list[str]] = {}
    for path in (
        "/journeys",
        f"/journeys/{JOURNEY}",
        f"/journeys/{journey_id}?from_version={older}&to_version={newer}",
    ):
        await page.goto(live_console.url + path)
        if path != "/journeys":
            await figures_shown(page)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("axe.run(document).then(r => JSON.stringify(r.violations))")
        found[path] = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])})"
            for v in json.loads(result)
            if v["impact"] in ("serious", "critical")
        ]
    await context.close()
    assert {path: problems for path, problems in found.items() if problems} == {}
