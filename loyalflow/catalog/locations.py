"""Where things are in a YAML file: maps a field path such as ("steps", 2, "template") to the
line and column a marketer sees in their editor, so every problem can be pointed at."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


@dataclass(frozen=True)
class Location:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class DuplicateKey:
    path: tuple[int | str, ...]  # the mapping's path; the key is path[-1]
    location: Location  # of the second occurrence of the key
    first_line: int


def dotted(path: Sequence[int | str]) -> str:
    """("steps", 2, "template") -> "steps[2].template", as a marketer reads it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


class YamlDocument:
    def __init__(self, text: str) -> None:
        """Raises yaml.YAMLError (with its own line and column) for text that is not YAML."""
        self.text = text
        self.root: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
        self.data: object = yaml.safe_load(text)

    def node(self, path: Sequence[int | str], *, key: bool = False) -> Node | None:
        """The closest node to `path`. Parts that are not in the file (pydantic's union tags,
        a missing field) are skipped, so the answer is the nearest enclosing node. With
        `key=True`, a final mapping key is located itself rather than its value."""
        node = self.root
        for index, part in enumerate(path):
            if node is None:
                break
            last = index == len(path) - 1
            child = _child(node, part, as_key=key and last)
            if child is not None:
                node = child
        return node

    def locate(self, path: Sequence[int | str], *, key: bool = False) -> Location:
        node = self.node(path, key=key)
        if node is None:
            return Location(1, 1)
        return Location(node.start_mark.line + 1, node.start_mark.column + 1)

    def locate_in_value(self, path: Sequence[int | str], column: int) -> Location:
        """The position of character `column` (1-based) of the scalar at `path`, wherever the
        scalar's text sits: after a quote, with escapes, or folded over several lines."""
        node = self.node(path)
        if not isinstance(node, ScalarNode):
            return self.locate(path)
        index = _source_index(self.text, node, column - 1)
        if index is None:
            start = self.locate(path)
            quote = 1 if node.style in ("'", '"') else 0
            return Location(start.line, start.column + quote + column - 1)
        line_start = self.text.rfind("\n", 0, index) + 1
        return Location(self.text.count("\n", 0, index) + 1, index - line_start + 1)

    def duplicate_keys(self) -> Iterator[DuplicateKey]:
        """Keys written twice in one mapping: YAML keeps the last silently, hiding the first."""
        yield from _duplicates(self.root, ())


def _child(node: Node, part: int | str, *, as_key: bool) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node if as_key else value_node
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    return None


def _source_index(text: str, node: ScalarNode, offset: int) -> int | None:
    """Index in `text` of the character `offset` of the scalar's value: the value's characters
    are matched in order against the source, skipping quotes, escapes, line breaks and
    indentation. None when the value cannot be followed in the source."""
    value: str = node.value
    if not 0 <= offset < len(value):
        return None
    position, end = node.start_mark.index, node.end_mark.index
    if node.style in ("'", '"'):
        position += 1
    elif node.style in ("|", ">"):
        position = text.find("\n", position, end) + 1
        if position == 0:
            return None
    for index, char in enumerate(value):
        while position < end and text[position] != char:
            position += 1
        if position >= end:
            return None
        if index == offset:
            return position
        position += 1
    return None


def _duplicates(node: Node | None, path: tuple[int | str, ...]) -> Iterator[DuplicateKey]:
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            name = key_node.value
            if name in seen:
                mark = key_node.start_mark
                yield DuplicateKey(
                    (*path, name), Location(mark.line + 1, mark.column + 1), seen[name]
                )
            else:
                seen[name] = key_node.start_mark.line + 1
            yield from _duplicates(value_node, (*path, name))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*path, index))
