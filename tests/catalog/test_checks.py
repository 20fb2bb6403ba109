"""Every kind of mistake a marketer can make in a journey file is reported as
`file:line:column: message`, pointing at the offending key or value, in plain words: through
`loyalflow journeys validate` and through `load_journey`."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.catalog.checks import CheckContext
from loyalflow.catalog.loader import JourneyLoadError, load_journey
from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.rules.messaging import policy_from

SETTINGS = Settings()
KINDS = "send, wait, wait_for, branch, split, update, exit"
# Lines 1-6; the first step starts on line 7, its keys at column 5.
HEAD = """\
id: test
name: Test
trigger:
  event: member.joined
topic: loyalty
steps:
"""

Expected = list[tuple[int, int, str]]

CASES: list[tuple[str, str, Expected]] = [
    (
        "unknown-key-top-level",
        "id: test\nname: Test\ncolour: red\ntrigger:\n  event: member.joined\n"
        "topic: loyalty\nsteps:\n  - id: a\n    kind: exit\n",
        [(3, 1, "unknown key 'colour'")],
    ),
    (
        "unknown-key-in-step",
        HEAD + "  - id: a\n    kind: send\n    channel: email\n    template: welcome\n"
        "    subjet: Hi\n",
        [(11, 5, "steps[0]: unknown key 'subjet'")],
    ),
    (
        "misspelt-key-is-also-missing",
        HEAD + "  - id: a\n    kind: send\n    channel: email\n    templte: welcome\n",
        [
            (7, 5, "steps[0]: required field 'template' is missing"),
            (10, 5, "steps[0]: unknown key 'templte' (did you mean 'template'?)"),
        ],
    ),
    (
        "unknown-step-kind",
        HEAD + "  - id: a\n    kind: email\n",
        [(8, 11, f"steps[0].kind: unknown step kind 'email' (must be one of: {KINDS})")],
    ),
    (
        "step-without-kind",
        HEAD + "  - id: a\n    channel: email\n",
        [(7, 5, f"steps[0]: a step needs a `kind` (one of: {KINDS})")],
    ),
    (
        "missing-field-in-step",
        HEAD + "  - id: a\n    kind: send\n    channel: email\n",
        [(7, 5, "steps[0]: required field 'template' is missing")],
    ),
    (
        "missing-field-top-level",
        "id: test\nname: Test\ntrigger:\n  event: member.joined\nsteps:\n"
        "  - id: a\n    kind: exit\n",
        [(1, 1, "required field 'topic' is missing")],
    ),
    (
        "value-not-among-choices",
        HEAD + "  - id: a\n    kind: send\n    channel: fax\n    template: welcome\n",
        [(9, 14, "steps[0].channel: must be one of: email, sms, not 'fax'")],
    ),
    (
        "step-id-not-a-name",
        HEAD + "  - id: Welcome Email\n    kind: exit\n",
        [
            (
                7,
                9,
                "steps[0].id: must start with a lowercase letter and use only lowercase "
                "letters, digits and _ (e.g. welcome_email), not 'Welcome Email'",
            )
        ],
    ),
    (
        "dangling-next",
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n    next: thanks\n"
        "  - id: thank\n    kind: exit\n",
        [
            (
                10,
                11,
                "steps[0].next: goes to step 'thanks', which does not exist "
                "(did you mean 'thank'?)",
            ),
            (11, 9, "step 'thank' can never be reached (no step before it leads to it)"),
        ],
    ),
    (
        "dangling-on-timeout",
        HEAD + "  - id: a\n    kind: wait_for\n    event: purchase\n    timeout: 3d\n"
        "    on_timeout: nowhere\n",
        [(11, 17, "steps[0].on_timeout: goes to step 'nowhere', which does not exist")],
    ),
    (
        "dangling-branch-target",
        HEAD + "  - id: a\n    kind: branch\n    branches:\n"
        "      - when: \"member.tier == 'Gold'\"\n        next: nowhere\n",
        [(11, 15, "steps[0].branches[0].next: goes to step 'nowhere', which does not exist")],
    ),
    (
        "dangling-variant-next",
        HEAD + "  - id: a\n    kind: split\n    variants:\n"
        "      - {name: x, weight: 50, next: nowhere}\n      - {name: y, weight: 50}\n",
        [(10, 37, "steps[0].variants[0].next: goes to step 'nowhere', which does not exist")],
    ),
    (
        "unreachable-step",
        HEAD + "  - id: a\n    kind: exit\n  - id: b\n    kind: exit\n",
        [(9, 9, "step 'b' can never be reached (no step before it leads to it)")],
    ),
    (
        "loop-without-wait",
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n"
        "  - id: b\n    kind: update\n    award_points: 5\n    next: a\n",
        [
            (
                7,
                9,
                "loop with no wait or wait_for step, it would repeat without end: a -> b -> a",
            )
        ],
    ),
    (
        "weights-do-not-sum",
        HEAD + "  - id: a\n    kind: split\n    variants:\n"
        "      - {name: x, weight: 50}\n      - {name: y, weight: 40}\n",
        [(9, 5, "steps[0]: weights (with the holdout) must sum to 100, not 90")],
    ),
    (
        "weights-with-holdout-do-not-sum",
        HEAD + "  - id: a\n    kind: split\n    variants:\n"
        "      - {name: x, weight: 50}\n      - {name: y, weight: 40}\n    holdout: 20\n",
        [(9, 5, "steps[0]: weights (with the holdout) must sum to 100, not 110")],
    ),
    (
        "missing-template",
        HEAD + "  - id: a\n    kind: send\n    channel: email\n    template: welcom\n",
        [
            (
                10,
                15,
                "steps[0].template: template 'welcom' does not exist "
                f"(no folder welcom/ in {SETTINGS.templates_dir})",
            )
        ],
    ),
    (
        "topic-without-consent-rules",
        "id: test\nname: Test\ntrigger:\n  event: member.joined\ntopic: promos\nsteps:\n"
        "  - id: a\n    kind: send\n    channel: email\n    template: welcome\n",
        [
            (
                5,
                8,
                "topic 'promos' has no consent rules in the messaging policy, so no message can "
                "be sent on it (topics with rules: loyalty, offers, onboarding, service)",
            )
        ],
    ),
    (
        "condition-unknown-member-field",
        HEAD + "  - id: a\n    kind: branch\n    branches:\n"
        "      - when: \"member.tierr == 'Gold'\"\n        next: b\n  - id: b\n    kind: exit\n",
        [
            (
                10,
                23,
                "steps[0].branches[0].when: member has no field 'tierr' (did you mean 'tier'?)",
            )
        ],
    ),
    (
        "condition-type-error",
        HEAD + "  - id: a\n    kind: branch\n    branches:\n"
        "      - when: member.points >= 'Gold'\n        next: b\n  - id: b\n    kind: exit\n",
        [
            (
                10,
                32,
                "steps[0].branches[0].when: cannot compare member.points (a number) "
                "with 'Gold' (text)",
            )
        ],
    ),
    (
        "condition-folded-over-lines",
        HEAD + "  - id: a\n    kind: branch\n    branches:\n      - when: >\n"
        "          member.points > 5 and\n          member.tierr == 'Gold'\n"
        "        next: b\n  - id: b\n    kind: exit\n",
        [
            (
                12,
                18,
                "steps[0].branches[0].when: member has no field 'tierr' (did you mean 'tier'?)",
            )
        ],
    ),
    (
        "exit-when-reads-member",
        "id: test\nname: Test\ntrigger:\n  event: member.joined\ntopic: loyalty\n"
        "exit_when:\n  - event: purchase\n    condition: event.amount > 5 and member.points > 5\n"
        "steps:\n  - id: a\n    kind: exit\n",
        [
            (
                8,
                37,
                "exit_when[0].condition: the condition of an exit rule may only read the event "
                "(event.*), not member.points",
            )
        ],
    ),
    (
        "invalid-yaml",
        HEAD + "  - id: a\n    kind: exit\n   next: end\n",
        [(9, 4, "not valid YAML: this line is not indented like the lines above it")],
    ),
    (
        "tab-indentation",
        HEAD + "  - id: a\n\tkind: exit\n",
        [(8, 1, "not valid YAML: a tab is used for indentation; YAML needs spaces")],
    ),
    (
        "duplicate-key",
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n    award_points: 50\n",
        [
            (
                10,
                5,
                "steps[0]: key 'award_points' is written twice (first on line 9); only the last "
                "one would count",
            )
        ],
    ),
    (
        "invalid-duration",
        HEAD + "  - id: a\n    kind: wait\n    duration: soon\n",
        [(9, 15, "steps[0].duration: must be a duration such as 3d, 12h, 90m or 1w, not 'soon'")],
    ),
    (
        "cron-with-four-fields",
        "id: test\nname: Test\ntrigger:\n  segment: member.points > 5\n"
        '  schedule: "0 3 * *"\ntopic: loyalty\nsteps:\n  - id: a\n    kind: exit\n',
        [(5, 3, "trigger: schedule must be a 5-field cron expression, e.g. '0 3 * * *'")],
    ),
    (
        "cron-out-of-range",
        "id: test\nname: Test\ntrigger:\n  segment: member.points > 5\n"
        '  schedule: "0 25 * * mon-fri"\ntopic: loyalty\nsteps:\n  - id: a\n    kind: exit\n',
        [(5, 13, "trigger.schedule: the hour field '25' must be within 0-23")],
    ),
    (
        "end-as-step-id",
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n  - id: end\n    kind: exit\n",
        [(10, 9, "steps[1].id: 'end' is reserved (`next: end` ends the journey)")],
    ),
    (
        "step-id-twice",
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n  - id: a\n    kind: exit\n",
        [(10, 9, "steps[1].id: step id 'a' is used twice")],
    ),
    (
        "no-steps",
        "id: test\nname: Test\ntrigger:\n  event: member.joined\ntopic: loyalty\nsteps: []\n",
        [(6, 8, "steps: must have at least 1 item")],
    ),
    (
        "not-a-mapping",
        "- id: a\n",
        [(1, 1, "a journey is a mapping (id, name, trigger, steps...)")],
    ),
    (
        "several-shape-problems",
        HEAD + "  - id: a\n    kind: send\n    channel: fax\n    template: welcome\n"
        "  - id: b\n    kind: wait\n    duration: soon\n"
        "  - id: c\n    kind: split\n    variants:\n      - {name: x, weight: 150}\n",
        [
            (9, 14, "steps[0].channel: must be one of: email, sms, not 'fax'"),
            (
                13,
                15,
                "steps[1].duration: must be a duration such as 3d, 12h, 90m or 1w, not 'soon'",
            ),
            (17, 27, "steps[2].variants[0].weight: must be at most 100, not 150"),
        ],
    ),
    (
        "several-graph-problems",
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n    next: nowhere\n"
        "  - id: b\n    kind: send\n    channel: email\n    template: nope\n",
        [
            (10, 11, "steps[0].next: goes to step 'nowhere', which does not exist"),
            (11, 9, "step 'b' can never be reached (no step before it leads to it)"),
            (
                14,
                15,
                "steps[1].template: template 'nope' does not exist "
                f"(no folder nope/ in {SETTINGS.templates_dir})",
            ),
        ],
    ),
]


def context(templates_dir: Path | None = None) -> CheckContext:
    return CheckContext(
        templates_dir=templates_dir or SETTINGS.templates_dir,
        policy=policy_from(SETTINGS.messaging_policy_file),
        locales=("en", "fr"),
    )


def write(tmp_path: Path, text: str, name: str = "journey.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lines(path: Path, expected: Expected) -> list[str]:
    return [f"{path}:{line}:{column}: {message}" for line, column, message in expected]


def load_problems(path: Path, templates_dir: Path | None = None) -> list[str]:
    with pytest.raises(JourneyLoadError) as raised:
        load_journey(path, context(templates_dir))
    return raised.value.problems


def validate(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["journeys", "validate", *args])
    return result.exit_code, result.output.splitlines()


@pytest.fixture
def templates_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """LOYALFLOW_TEMPLATES_DIR pointing at tmp_path/templates, for the CLI's settings."""
    templates = tmp_path / "templates"
    monkeypatch.setenv("LOYALFLOW_TEMPLATES_DIR", str(templates))
    get_settings.cache_clear()
    yield templates
    get_settings.cache_clear()


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_load_journey_reports_each_problem_where_it_is(
    tmp_path: Path, text: str, expected: Expected
) -> None:
    path = write(tmp_path, text)
    assert load_problems(path) == lines(path, expected)


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validate_prints_each_problem_and_fails(
    tmp_path: Path, text: str, expected: Expected
) -> None:
    path = write(tmp_path, text)
    code, output = validate(str(path))
    assert code == 1
    assert output == [*lines(path, expected), f"{len(expected)} problem(s) in 1 file(s)"]


def test_a_loop_with_a_wait_is_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n"
        "  - id: pause\n    kind: wait\n    duration: 30d\n    next: a\n",
    )
    assert load_journey(path, context()).id == "test"
    assert validate(str(path)) == (0, ["1 journey file(s) OK"])


def test_weights_summing_to_100_with_a_holdout_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "  - id: a\n    kind: split\n    variants:\n"
        "      - {name: x, weight: 45}\n      - {name: y, weight: 45}\n    holdout: 10\n",
    )
    assert load_journey(path, context()).id == "test"


def test_several_files_are_all_reported(tmp_path: Path) -> None:
    good = write(tmp_path, HEAD + "  - id: a\n    kind: exit\n", "good.yaml")
    first = write(tmp_path, HEAD + "  - id: a\n    kind: email\n", "first.yaml")
    second = write(
        tmp_path, HEAD + "  - id: a\n    kind: exit\n  - id: b\n    kind: exit\n", "b.yaml"
    )
    code, output = validate(str(first), str(good), str(second))
    assert code == 1
    assert output == [
        f"{first}:8:11: steps[0].kind: unknown step kind 'email' (must be one of: {KINDS})",
        f"{second}:9:9: step 'b' can never be reached (no step before it leads to it)",
        "2 problem(s) in 3 file(s)",
    ]


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert validate(str(missing)) == (
        1,
        [f"{missing}: cannot be read (No such file or directory)", "1 problem(s) in 1 file(s)"],
    )


def _templates(tmp_path: Path, files: dict[str, str]) -> Path:
    templates = tmp_path / "templates"
    for name, text in files.items():
        (templates / "promo").mkdir(parents=True, exist_ok=True)
        (templates / "promo" / name).write_text(text, encoding="utf-8")
    return templates


SEND_PROMO = HEAD + "  - id: a\n    kind: send\n    channel: email\n    template: promo\n"
EMAIL_PARTS = "<locale>.subject.txt, <locale>.txt, <locale>.html"


def test_a_missing_locale_is_reported(tmp_path: Path, templates_env: Path) -> None:
    templates = _templates(
        tmp_path,
        {"en.subject.txt": "Hi", "en.txt": "Hello", "en.html": "<p>Hello</p>", "fr.txt": "Salut"},
    )
    path = write(tmp_path, SEND_PROMO)
    expected = lines(
        path,
        [
            (
                10,
                15,
                f"steps[0].template: promo/fr.html is missing (an email template needs {EMAIL_PARTS})",
            ),
            (
                10,
                15,
                "steps[0].template: promo/fr.subject.txt is missing "
                f"(an email template needs {EMAIL_PARTS})",
            ),
        ],
    )
    assert load_problems(path, templates) == expected
    code, output = validate(str(path))
    assert (code, output) == (1, [*expected, "2 problem(s) in 1 file(s)"])


def test_a_template_variable_the_member_does_not_have_is_reported(
    tmp_path: Path, templates_env: Path
) -> None:
    files: dict[str, str] = {}
    for locale in ("en", "fr"):
        files |= {f"{locale}.subject.txt": "Hi", f"{locale}.html": "<p>Hello</p>"}
        files[f"{locale}.txt"] = "Hello\n{{ member.frist_name }}" if locale == "en" else "Salut"
    templates = _templates(tmp_path, files)
    path = write(tmp_path, SEND_PROMO)
    expected = lines(
        path,
        [
            (
                10,
                15,
                "steps[0].template: promo/en.txt line 2: member.frist_name is not a member field "
                "(did you mean member.first_name?)",
            )
        ],
    )
    assert load_problems(path, templates) == expected
    code, output = validate(str(path))
    assert (code, output) == (1, [*expected, "1 problem(s) in 1 file(s)"])


def test_every_shipped_journey_validates() -> None:
    shipped = sorted(SETTINGS.journeys_dir.glob("*.yaml"))
    # Issue 14 added birthday, points_expiring, near_next_tier, referral_thanks and
    # redemption_confirmation.
    assert len(shipped) == 10
    for path in shipped:
        load_journey(path, context())
    assert validate() == (0, ["10 journey file(s) OK"])
    assert validate(*map(str, shipped)) == (0, ["10 journey file(s) OK"])


def test_brackets_in_problems_are_printed_as_written(tmp_path: Path) -> None:
    """Rich would read `[bold]` or `[red]` as markup and drop it: problems are plain text."""
    path = write(
        tmp_path,
        HEAD + "  - id: a\n    kind: update\n    award_points: 5\n  - id: b\n    kind: update\n"
        "    add_tag: vip\n  - id: c\n    kind: branch\n    branches:\n"
        "      - when: \"member.tier in ['red', 'bold']\"\n        next: nowhere\n",
    )
    code, output = validate(str(path))
    assert code == 1
    assert (
        output[0]
        == f"{path}:17:15: steps[2].branches[0].next: goes to step 'nowhere', which does not exist"
    )
