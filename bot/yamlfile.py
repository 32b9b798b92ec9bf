"""YAML loading that remembers line numbers, so data errors point at the exact line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import yaml
from msgspec import Meta

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


T = TypeVar("T")

Said = Annotated[str, Meta(pattern=r"\S")]
"""A string that says something (not empty, not only spaces)."""
TRANSLATABLE = r"^[^{}]*\S[^{}]*$"
"""A text that says something without { or }: translations go through str.format, and a
stray brace would break them."""

# msgspec's own words for a mismatch, and where it is: "Expected `bool`, got `str` - at
# `$.verified`"; a field missing or unknown is named in the message itself.
_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_NAMED = re.compile(
    r"^Object (?P<what>missing required|contains unknown) field `(?P<field>[^`]+)`$"
)
_PATTERN = re.compile(r"^Expected `str` matching regex ")
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")


def convert(
    path: Path,
    data: Any,
    schema: type[T],
    label: str = "",
    hints: Mapping[str, str] | None = None,
) -> T:
    """`data` (a mapping as `load_yaml` read it) checked against `schema`, a msgspec
    Struct that declares the fields, their types and shapes. A mismatch becomes one
    ContentError on the line of the innermost mapping concerned, naming `label.field`
    (the field alone without a label),
    what is wrong and, from `hints`, what the field takes (by its dotted name, e.g.
    "coordinates.lat")."""
    try:
        return msgspec.convert(_without_lines(data), schema)
    except msgspec.ValidationError as error:
        match = _AT.match(str(error))
        assert match is not None  # the pattern matches any text
        steps = [name or int(index) for name, index in _STEP.findall(match["path"] or "")]
        problem = match["problem"]
        named = _NAMED.match(problem)
        if named is not None:
            steps.append(named["field"])
            if named["what"] == "missing required":
                problem = "is required"
            else:
                known = sorted(f.name for f in msgspec.structs.fields(schema))  # type: ignore[arg-type]
                problem = "unknown field" + (
                    f" (known: {', '.join(known)})" if not steps[:-1] else ""
                )
        hint = (hints or {}).get(".".join(str(s) for s in steps if isinstance(s, str)))
        if named is None and hint:
            # A pattern means nothing to an editor: what the field takes says it all.
            problem = f"must be {hint}" if _PATTERN.match(problem) else f"{problem}: {hint}"
        field = ".".join(part for part in (label, _named(steps)) if part)
        raise ContentError(path, _line_at(data, steps), field, problem) from None


def _named(steps: list[str | int]) -> str:
    """ "questions[2].choices[0].label": a list's index is named where it leads to a field
    (a list of mappings), not at the end (a list of values is named by its field)."""
    named = ""
    for position, step in enumerate(steps):
        if isinstance(step, str):
            named += f".{step}" if named else step
        elif any(isinstance(later, str) for later in steps[position + 1 :]):
            named += f"[{step}]"
    return named


def _without_lines(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_lines(v) for k, v in data.items() if k != LINE_KEY}
    if isinstance(data, list):
        return [_without_lines(item) for item in data]
    return data


def _line_at(data: Any, steps: list[str | int]) -> int | None:
    """The line of the innermost mapping on the way to `steps`."""
    line = line_of(data)
    for step in steps:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            break
        line = line_of(data) or line
    return line
