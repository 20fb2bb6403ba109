"""The dashboard in the browser: a marketer's figures are the report API's (`GET /reports/kpis`)
for the same period, computed in the background while the page polls, then stored; the charts
draw without a console error under the CSP; Refresh is audited; support is refused on the
server; French labels; axe finds no serious or critical problem.

The period is a month of a year no other test writes in, so that tests running at the same time
on the shared database cannot change its figures between the page and the API call."""

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from sqlmodel import col, select

from loyalflow.catalog.event_types import event_types_from
from loyalflow.console.rendering import STATIC_DIR
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from loyalflow.rules.loyalty import rules_from
from tests.conftest import unique_member_id
from tests.console.conftest import AXE, PASSWORD, ROOT, LiveConsole, sign_in

COMPUTED = 60_000  # ms: the snapshot is computed in the background while the page polls


def seed_month(console: LiveConsole) -> tuple[date, date]:
    """Three members of our own in a month of the 1980s: two buy, one of them twice."""
    first = date(random.randint(1975, 1995), random.randint(1, 12), 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    settings = console.settings
    url = settings.effective_database_url
    rules = rules_from(settings.loyalty_rules_file)
    types = event_types_from(settings.events_file)
    noon = datetime.combine(first, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    plan: list[tuple[str, str, int, dict[str, Any]]] = []
    for n, amount in enumerate((120.5, 80, None)):
        member = unique_member_id("D")
        upsert_member(url, member, MemberIn(locale="fr" if n else "en"))
        plan.append((member, "member.joined", 0, {}))
        if amount is not None:
            plan.append((member, "purchase", 3 + n, {"amount": amount}))
        plan.append((member, "visit", 10, {}))
    plan.append((plan[0][0], "purchase", 20, {"amount": 42.25}))
    events = [
        EventIn(
            event_id=uuid.uuid4().hex,
            member_id=member,
            type=kind,
            occurred_at=noon + timedelta(days=day),
            properties=properties,
        )
        for member, kind, day, properties in plan
    ]
    store_events(url, events, rules, types)
    return first, last


def collect_problems(page: Page) -> list[str]:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The browser asks for /favicon.ico by itself; the console has none.
        if message.type in ("error", "warning") and "favicon" not in message.location["url"]:
            problems.append(f"{message.text} ({message.location['url']})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


async def shown_figures(page: Page) -> dict[str, str]:
    cards = page.locator("[data-kpi]")
    await expect(cards.first).to_be_visible(timeout=COMPUTED)
    pairs = await cards.evaluate_all("cs => cs.map(c => [c.dataset.kpi, c.dataset.value])")
    return dict(pairs)


def same_figure(shown: str, expected: Any) -> bool:
    if expected is None:
        return shown == ""
    if isinstance(expected, str):  # money: an exact decimal
        return Decimal(shown) == Decimal(expected)
    return float(shown) == float(expected)


async def drawn_charts(page: Page) -> list[str]:
    return list(
        await page.locator("canvas[data-chart]").evaluate_all(
            "cs => cs.filter(c => Chart.getChart(c) !== undefined).map(c => c.id)"
        )
    )


def audit_rows(console: LiveConsole, actor: str) -> list[dict[str, Any]]:
    with session_scope(console.settings.effective_database_url) as session:
        rows = session.exec(
            select(AuditEntry)
            .where(AuditEntry.actor == actor, AuditEntry.action == "dashboard.refresh")
            .order_by(col(AuditEntry.id))
        )
        return [row.details for row in rows]


async def test_a_marketers_dashboard_shows_the_report_apis_figures(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    console = live_console
    first, last = seed_month(console)
    page = await context.new_page()
    problems = collect_problems(page)
    await sign_in(page, console, console.users.marketer)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(page.locator("#series-chart")).to_be_visible()

    await page.get_by_label("From", exact=True).fill(first.isoformat())
    await page.get_by_label("To", exact=True).fill(last.isoformat())
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#period")).to_have_text(f"From {first} to {last} inclusive")
    shown = await shown_figures(page)
    await expect(page.get_by_text("Figures as of")).to_be_visible()

    api = console.url.removesuffix("/console")
    async with httpx.AsyncClient(timeout=60) as client:
        answer = await client.get(
            f"{api}/reports/kpis", params={"from": first.isoformat(), "to": last.isoformat()}
        )
    assert answer.status_code == 200
    overall = answer.json()["overall"]
    assert overall["members"]["total"] >= 3 and overall["purchases"]["orders"] >= 3
    expected = {
        f"{part}.{name}": overall[part][name] for part, name in (path.split(".") for path in shown)
    }
    assert {"members.total", "members.active_rate", "purchases.revenue"} <= set(shown)
    assert {"purchases.average_order_value", "points.issued"} <= set(shown)
    wrong = {p: (shown[p], expected[p]) for p in shown if not same_figure(shown[p], expected[p])}
    assert wrong == {}
    assert set(await drawn_charts(page)) == {"series-chart", "tiers-chart"}
    assert await page.locator("#cohorts tbody tr").count() >= 1
    assert await page.locator("#rfm-frequency tbody tr").count() == 3

    await page.get_by_role("button", name="Refresh").click()
    await expect(page.get_by_text("Figures as of")).to_be_visible(timeout=COMPUTED)
    assert await shown_figures(page) == shown
    assert set(await drawn_charts(page)) == {"series-chart", "tiers-chart"}
    assert audit_rows(console, console.users.marketer) == [
        {"start": first.isoformat(), "end": last.isoformat(), "by": None}
    ]
    assert problems == []


async def test_support_sees_their_links_and_is_refused_the_dashboard(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    console = live_console
    page = await context.new_page()
    await sign_in(page, console, console.users.support)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Welcome, {console.users.support}"
    )
    assert await page.locator("[data-kpi], canvas").count() == 0
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    async with httpx.AsyncClient(cookies=cookies) as client:
        figures = await client.get(f"{console.url}/dashboard/figures?days=7")
        refresh = await client.post(
            f"{console.url}/dashboard/refresh", data={"csrf_token": token, "days": "7"}
        )
    assert (figures.status_code, refresh.status_code) == (403, 403)
    assert audit_rows(console, console.users.support) == []


async def test_a_bad_period_is_refused_with_its_field(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.admin)
    for query, field in (
        ("days=12", "days"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2026-03-01", "to"),
        ("from=yesterday&to=2026-03-01", "from"),
        ("days=7&by=region", "by"),
    ):
        answer = await page.goto(f"{live_console.url}/?{query}")
        assert answer is not None and answer.status == 400, query
        await expect(page.get_by_role("alert")).to_contain_text(field)


async def test_in_french_with_no_serious_accessibility_problem(
    live_console: LiveConsole, browser: Browser
) -> None:
    # axe is injected as a script: this context alone lets it past the page's CSP.
    context = await browser.new_context(bypass_csp=True, locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{live_console.url}/login")
    await page.get_by_label("Nom d'utilisateur").fill(live_console.users.marketer)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.goto(f"{live_console.url}/?days=7&by=tier")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    await expect(page.get_by_text("Chiffres au")).to_be_visible(timeout=COMPUTED)
    for label in ("Indicateurs du programme", "Rétention par cohorte", "Grille RFM"):
        await expect(page.get_by_role("heading", name=label)).to_be_visible()
    await expect(page.locator("[data-kpi='purchases.average_order_value'] dt")).to_have_text(
        "Panier moyen"
    )
    await expect(page.get_by_role("button", name="Actualiser")).to_be_enabled()
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document).then(r => JSON.stringify(r.violations))")
    await context.close()
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in json.loads(result)
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


def test_the_vendored_chart_js_is_the_locked_npm_package() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/chart.js"]["version"]
    installed = json.loads((ROOT / "node_modules/chart.js/package.json").read_text())
    assert installed["version"] == locked == "4.6.1"
    vendored = STATIC_DIR / "vendor" / "chart.umd.min.js"
    assert (
        vendored.read_bytes() == (ROOT / "node_modules/chart.js/dist/chart.umd.min.js").read_bytes()
    )
    for licence in ("chart.js.LICENSE.md", "kurkle-color.LICENSE.md"):
        assert (STATIC_DIR / "vendor" / licence).read_text().startswith("The MIT License")
