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
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_yaml(path: Path) -> Any:
    """Parse `path`; every mapping gets a `__line__` entry. Syntax errors become ContentError."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise ContentError(
            path, mark.line + 1 if mark else None, "yaml", str(error.problem)
        ) from error


def line_of(mapping: Any) -> int | None:
    """The line a mapping started on, if it came from `load_yaml`."""
    return mapping.get(LINE_KEY) if isinstance(mapping, dict) else None
