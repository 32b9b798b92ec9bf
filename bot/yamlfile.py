"""YAML loading that remembers line numbers, so data errors point at the exact line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LINE_KEY = "__line__"


class ContentError(ValueError):
    """A content or data file is invalid; the message names the file, line and field."""

    def __init__(self, path: Path, line: int | None, field: str, problem: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {field}: {problem}")
        self.path = path
        self.line = line
        self.field = field


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings carry the 1-based line where they start."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str | int | float | bool) or key is None:
            if key in seen:  # PyYAML would silently keep the last one
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is defined twice in this mapping", key_node.start_mark
                )
            seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


# Errors found only on the line *after* the mistake: a key without its ':', a quote or a
# bracket never closed. Their context mark is the line the editor has to fix.
_BEGUN_EARLIER = ("while scanning", "while parsing a flow")


def load_yaml(path: Path) -> Any:
    """Parse `path`; every mapping gets a `__line__` entry. Syntax errors (and a key
    written twice in one mapping) become ContentError on the line to fix."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        context = error.context or ""
        mark = (
            error.context_mark
            if error.context_mark is not None and context.startswith(_BEGUN_EARLIER)
            else error.problem_mark
        )
        problem = str(error.problem) + (f" ({context})" if context else "")
        raise ContentError(path, mark.line + 1 if mark else None, "yaml", problem) from error


def line_of(mapping: Any) -> int | None:
    """The line a mapping started on, if it came from `load_yaml`."""
    return mapping.get(LINE_KEY) if isinstance(mapping, dict) else None
