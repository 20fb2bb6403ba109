"""Bad input over plain HTTP, signed in as support staff: a clear 4xx that names the field,
never a 500, and nothing changed."""

import re

import httpx

from tests.conftest import unique_member_id
from tests.console.conftest import PASSWORD, LiveConsole
from tests.journey_helpers import create_member

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(console: LiveConsole, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=console.url)
    login = client.get("/login")
    [login_token] = TOKEN.findall(login.text)
    done = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf_token": login_token}
    )
    assert done.status_code == 303, done.text
    home = client.get("/")
    return client, TOKEN.findall(home.text)[0]


def test_bad_input_is_a_clear_4xx(live_console: LiveConsole) -> None:
    member = unique_member_id("B")
    create_member(live_console.settings, member)
    client, token = signed_in(live_console, live_console.users.support)
    try:
        for path, status, field in (
            ("/members/%3Cnobody%3E", 404, None),
            ("/members?q=" + "x" * 5000, 200, None),
            ("/messages?before=not-a-cursor", 400, "before"),
            ("/messages?until=2026-13-01", 400, "until"),
            ("/messages?since=2026-01-01T00:00", 400, "since"),
        ):
            response = client.get(path)
            assert response.status_code == status, (path, response.text)
            if field:
                assert f"Check the field: {field}" in response.text
        posts: tuple[tuple[str, dict[str, str], int, str | None], ...] = (
            (f"/members/{member}/runs/journey-welcome-nobody/exit", {"reason": "x"}, 404, None),
            (
                f"/members/{member}/runs/journey-welcome-{member}/exit",
                {"reason": " "},
                400,
                "reason",
            ),
            (
                f"/members/{member}/consent",
                {"channel": "fax", "topic": "t", "status": "granted"},
                400,
                "channel",
            ),
            (
                f"/members/{member}/consent",
                {"channel": "email", "topic": "t", "status": "maybe"},
                400,
                "status",
            ),
            (f"/members/{member}/consent", {"channel": "email", "topic": "t"}, 400, "status"),
            (
                "/members/nobody-at-all/consent",
                {"channel": "email", "topic": "t", "status": "granted"},
                404,
                None,
            ),
            (f"/members/{member}/messages/no-such-message/retry", {}, 404, None),
        )
        for path, fields, status, field in posts:
            response = client.post(path, data={**fields, "csrf_token": token})
            assert response.status_code == status, (path, response.text)
            if field:
                assert f"Check the field: {field}" in response.text
        as_json = client.post(f"/members/{member}/consent", json={"csrf_token": token})
        assert as_json.status_code == 415
        huge = client.post(f"/members/{member}/consent", data={"x": "y" * 70_000})
        assert huge.status_code == 413
        odd_language = client.post("/language", data={"locale": "xx", "csrf_token": token})
        assert odd_language.status_code == 303
        assert client.get("/audit").status_code == 403  # support is not admin
    finally:
        client.close()
