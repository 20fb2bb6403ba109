"""Configuration files (loyalty rules, messaging policy): YAML validated by a pydantic model,
with errors that name the file, the line and the field."""

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, SequenceNode

Model = TypeVar("Model", bound=BaseModel)


class ConfigFileError(ValueError):
    pass


def load_yaml_model(path: Path, model: type[Model], what: str) -> Model:
    try:
        text = path.read_text(encoding="utf-8")
        return model.model_validate(yaml.safe_load(text))
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the {what}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        problems = "; ".join(
            f"line {line_of(root, e['loc'])}: {'.'.join(map(str, e['loc'])) or '(top level)'}: "
            f"{e['msg']}"
            for e in exc.errors()
        )
        raise ConfigFileError(f"{path}: {problems}") from exc


def line_of(root: Node | None, path: Sequence[int | str]) -> int:
    """The 1-based line of the field closest to `path`: a block (mapping, list) is pointed at by
    its key's line. Parts not in the file (a missing field, pydantic's own loc parts) are
    skipped, so a problem points at its nearest enclosing field."""
    node, line = root, (root.start_mark.line + 1 if root is not None else 1)
    for part in path:
        found = _child(node, part) if node is not None else None
        if found is not None:
            node, line = found
    return line


def _child(node: Node, part: int | str) -> tuple[Node, int] | None:
    """The child at `part` and the line that names it."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(part):
                block = isinstance(value_node, MappingNode | SequenceNode)
                named_by = key_node if block else value_node
                return value_node, named_by.start_mark.line + 1
    if isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: Node = node.value[part]
        return child, child.start_mark.line + 1
    return None
