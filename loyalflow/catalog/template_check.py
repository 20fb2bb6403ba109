"""Checks a message template against what a journey's send step gives it, before anything runs.

`check_template` reports, in plain words: a missing template folder or locale file for the channel,
Jinja syntax errors (file and line), and names the rendering context does not provide, e.g.
`welcome/fr.txt line 3: member.frist_name is not a member field`. It only reads the template files
(no database), so the journey validator can call it for every send step.

What a template may use is what `loyalflow.activities.rendering.TemplateRenderer` gives it. Accesses
a template guards itself are not reported, since they cannot fail: `trigger.get("to")`,
`params.x is defined`, `trigger.x | default(...)`.
"""

from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Literal

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

Channel = Literal["email", "sms"]

# The files a channel needs, per locale: `<locale>.<part>`.
PARTS: dict[Channel, tuple[str, ...]] = {
    "email": ("subject.txt", "txt", "html"),
    "sms": ("sms.txt",),
}
KNOWN_NAMES = frozenset(
    {
        "member",
        "trigger",
        "params",
        "variant",
        "locale",
        "program",
        "links",
        "footer_locale",
        "subject",
        "format_date",
        "format_number",
        "format_money",
    }
)
_ARTICLED: dict[Channel, str] = {"email": "an email template", "sms": "an SMS template"}
EMAIL_ONLY_NAMES = frozenset({"links", "footer_locale", "subject"})
PROGRAM_FIELDS = frozenset({"name", "currency", "url"})
# Names Jinja itself provides inside templates.
_JINJA_NAMES = frozenset({"loop", "self", "super", "caller", "varargs", "kwargs"})


@dataclass(frozen=True)
class Access:
    """`member.points`, `trigger["to"]`...: one read of a field of a context object."""

    obj: str
    key: str
    line: int
    guarded: bool  # `.get()`, `is defined` or `| default`: cannot fail at render time


def check_template(
    templates_dir: Path,
    name: str,
    channel: Literal["email", "sms"],
    *,
    locales: Sequence[str],
    params: AbstractSet[str],
    trigger_properties: AbstractSet[str] | None,
    member_fields: AbstractSet[str],
) -> list[str]:
    """Every problem found in template `name` for `channel` in each of `locales`; [] when none.

    `params`: the send step's params; `trigger_properties`: the trigger event's properties (None
    when unknown: `trigger.*` is then not checked); `member_fields`: what `member.*` offers.
    """
    folder = templates_dir / name
    if not folder.is_dir():
        return [f"template {name!r} does not exist (no folder {name}/ in {templates_dir})"]
    env = _environment(templates_dir)
    existing = frozenset(FileSystemLoader(str(templates_dir)).list_templates())
    known = KNOWN_NAMES if channel == "email" else KNOWN_NAMES - EMAIL_ONLY_NAMES
    fields: dict[str, tuple[AbstractSet[str] | None, str]] = {
        "member": (member_fields, "is not a member field"),
        "params": (params, "is not a param of this send step"),
        "trigger": (trigger_properties, "is not a property of the trigger event"),
        "program": (PROGRAM_FIELDS, "is not a program field"),
    }
    needed = ", ".join(f"<locale>.{part}" for part in PARTS[channel])
    problems: list[str] = []
    for locale in locales:
        for part in PARTS[channel]:
            label = f"{name}/{locale}.{part}"
            path = folder / f"{locale}.{part}"
            if not path.is_file():
                problems.append(f"{label} is missing ({_ARTICLED[channel]} needs {needed})")
                continue
            problems += _check_file(env, path, label, known, fields, existing)
    return problems


def template_reads(templates_dir: Path, name: str) -> dict[str, set[str]]:
    """What template `name` reads, over all its files: {"trigger": {"points", ...}, "params":
    {...}, "member": {...}, "program": {...}}, guarded reads included. Files that do not parse
    are left out (rendering or `check_template` reports them)."""
    reads: dict[str, set[str]] = {
        "member": set(),
        "trigger": set(),
        "params": set(),
        "program": set(),
    }
    env = _environment(templates_dir)
    for path in sorted((templates_dir / name).glob("*.txt")) + sorted(
        (templates_dir / name).glob("*.html")
    ):
        try:
            tree = env.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TemplateSyntaxError):
            continue
        for access in _accesses(tree):
            reads[access.obj].add(access.key)
    return reads


def _environment(templates_dir: Path) -> SandboxedEnvironment:
    # The renderer's settings, so the parse (and its syntax errors) is the one rendering sees.
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=True,
    )


def _check_file(
    env: SandboxedEnvironment,
    path: Path,
    label: str,
    known: AbstractSet[str],
    fields: dict[str, tuple[AbstractSet[str] | None, str]],
    existing: AbstractSet[str],
) -> list[str]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{label}: cannot be read ({exc})"]
    try:
        tree = env.parse(source, name=label, filename=str(path))
    except TemplateSyntaxError as exc:
        return [f"{label} line {exc.lineno}: syntax error: {exc.message}"]
    problems: list[tuple[int, str]] = []
    allowed = known | set(env.globals) | _JINJA_NAMES | _declared(tree)
    for unknown in sorted(meta.find_undeclared_variables(tree) - allowed):
        line = min((n.lineno for n in tree.find_all(nodes.Name) if n.name == unknown), default=1)
        problems.append((line, f"{unknown} is not defined (templates can use {_listing(known)})"))
    reported: set[tuple[str, str]] = set()
    for access in _accesses(tree):
        allowed_keys, complaint = fields[access.obj]
        if access.guarded or allowed_keys is None or access.key in allowed_keys:
            continue
        if (access.obj, access.key) in reported:
            continue
        reported.add((access.obj, access.key))
        close = get_close_matches(access.key, sorted(allowed_keys), n=1)
        if close:
            hint = f"did you mean {access.obj}.{close[0]}?"
        else:
            hint = f"it has {_listing(allowed_keys)}" if allowed_keys else "it has none"
        problems.append((access.line, f"{access.obj}.{access.key} {complaint} ({hint})"))
    for line, missing in _missing_parents(tree, existing):
        problems.append((line, missing))
    return [f"{label} line {line}: {text}" for line, text in sorted(problems)]


def _declared(tree: nodes.Template) -> set[str]:
    """Names the template defines itself. In a template that extends another, `find_undeclared_
    variables` also lists its top-level `set`s and macros, which blocks read from the context."""
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names |= {m.name for m in tree.find_all(nodes.Macro)}
    for imported in tree.find_all(nodes.FromImport):
        names |= {n if isinstance(n, str) else n[1] for n in imported.names}
    return names


def _listing(names: AbstractSet[str]) -> str:
    return ", ".join(sorted(names))


def _accesses(tree: nodes.Node) -> Iterator[Access]:
    """Reads of `member.x`, `trigger["x"]`, `params.get("x")`... anywhere in the template."""
    yield from _walk(tree, parent=None)


def _walk(node: nodes.Node, parent: nodes.Node | None) -> Iterator[Access]:
    access = _access(node, parent)
    if access is not None:
        yield access
    for child in node.iter_child_nodes():
        yield from _walk(child, node)


def _access(node: nodes.Node, parent: nodes.Node | None) -> Access | None:
    if isinstance(node, nodes.Getattr | nodes.Getitem) and _is_context_object(node.node):
        assert isinstance(node.node, nodes.Name)
        if isinstance(node, nodes.Getattr):
            key = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            key = node.arg.value
        else:
            return None  # `params[some_variable]`: not knowable before rendering
        if key == "get" and isinstance(parent, nodes.Call) and parent.node is node:
            return _get_call(node.node.name, parent)
        return Access(node.node.name, key, node.lineno, guarded=_is_guarded(node, parent))
    return None


def _get_call(obj: str, call: nodes.Call) -> Access | None:
    """`trigger.get("to")`: a read that falls back to None (or the default given) when missing."""
    if call.args and isinstance(call.args[0], nodes.Const) and isinstance(call.args[0].value, str):
        return Access(obj, call.args[0].value, call.lineno, guarded=True)
    return None


def _is_context_object(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name in {"member", "trigger", "params", "program"}


def _is_guarded(node: nodes.Node, parent: nodes.Node | None) -> bool:
    if isinstance(parent, nodes.Test) and parent.node is node:
        return parent.name in {"defined", "undefined"}
    if isinstance(parent, nodes.Filter) and parent.node is node:
        return parent.name in {"default", "d"}
    return False


def _missing_parents(tree: nodes.Template, existing: AbstractSet[str]) -> Iterator[tuple[int, str]]:
    """`{% extends %}`, `{% include %}` and `{% import %}` of a fixed name that does not exist."""
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        assert isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport)
        name = node.template.value if isinstance(node.template, nodes.Const) else None
        if isinstance(name, str) and name not in existing:
            keyword = type(node).__name__.lower().replace("fromimport", "import")
            yield node.lineno, f"{keyword} {name!r}, which does not exist"
