"""One test per people-or-machines rule (loyalflow/members/engagement_rules.py)."""

from datetime import UTC, datetime, timedelta

from loyalflow.members.engagement_rules import Hit, MessageFacts, classify, truncate_ip

SENT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
LATER = SENT + timedelta(minutes=30)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
ONE_LINK = MessageFacts(SENT, link_count=1, recent_click_positions=frozenset())


def hit(kind: str = "click", **changes: object) -> Hit:
    fields: dict[str, object] = {
        "kind": kind,
        "method": "GET",
        "user_agent": BROWSER,
        "ip_prefix": "203.0.113.0/24",
        "at": LATER,
    }
    fields.update(changes)
    return Hit(**fields)  # type: ignore[arg-type]


def test_apple_proxy_network_open_is_apple_mpp() -> None:
    verdict = classify(hit("open", ip_prefix="17.58.101.0/24"), ONE_LINK, None, 5)
    assert (verdict.rule, verdict.apple_mpp, verdict.human) == ("apple_mpp", True, False)


def test_apple_proxy_user_agent_open_is_apple_mpp() -> None:
    verdict = classify(hit("open", user_agent="Mozilla/5.0"), ONE_LINK, None, 5)
    assert verdict.rule == "apple_mpp"


def test_head_request_is_a_bot() -> None:
    verdict = classify(hit(method="HEAD"), ONE_LINK, 0, 5)
    assert (verdict.rule, verdict.bot, verdict.human) == ("bot:head", True, False)


def test_scanner_user_agent_is_a_bot() -> None:
    for agent in ("Mimecast-LinkScanner/2.0", "Barracuda Sentinel", "python-requests/2.32", None):
        assert classify(hit(user_agent=agent), ONE_LINK, 0, 5).rule == "bot:user_agent"


def test_hit_within_seconds_of_sending_is_a_bot() -> None:
    verdict = classify(hit(at=SENT + timedelta(seconds=2)), ONE_LINK, 0, 5)
    assert verdict.rule == "bot:too_soon"
    assert classify(hit(at=SENT + timedelta(seconds=6)), ONE_LINK, 0, 5).human


def test_every_link_clicked_within_one_second_is_a_bot() -> None:
    three = MessageFacts(SENT, link_count=3, recent_click_positions=frozenset({0, 1}))
    assert classify(hit(), three, 2, 5).rule == "bot:all_links"
    # Two of three links: a person may do that.
    two_of_three = MessageFacts(SENT, link_count=3, recent_click_positions=frozenset({0}))
    assert classify(hit(), two_of_three, 1, 5).human
    # A one-link message clicked once is a person, not a burst.
    assert classify(hit(), ONE_LINK, 0, 5).human


def test_anything_else_is_human_gmail_proxy_included() -> None:
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    verdict = classify(hit("open", user_agent=gmail), ONE_LINK, None, 5)
    assert (verdict.rule, verdict.human) == ("human", True)
    # Apple's network clicking a link is not MPP (MPP only fetches images).
    assert classify(hit(ip_prefix="17.58.101.0/24"), ONE_LINK, 0, 5).human


def test_ip_addresses_are_truncated() -> None:
    assert truncate_ip("203.0.113.77") == "203.0.113.0/24"
    assert truncate_ip("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert truncate_ip("testclient") is None
