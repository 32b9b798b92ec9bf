"""pybabel extractor for the YAML content files (registered as `sini_content`).

Every scalar under a `text` or `label` key is a translatable message, and so are the
service directory's free-text fields (`how_to_reach`, `hours`, `cost`); a `text` mapping
with `one`/`other` is a plural message. The translator comment names where the text
lives (e.g. `messages.drug.tramadol.about.text`) so a translator knows its context.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml

NULLS = frozenset({"", "~", "null", "Null", "NULL"})
TRANSLATABLE_KEYS = ("text", "label", "how_to_reach", "hours", "cost")

Extracted = tuple[int, str | None, str | tuple[str, str], list[str]]


def _walk(node: yaml.Node, trail: tuple[str, ...]) -> Iterator[Extracted]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = (*trail, key)
            if key in TRANSLATABLE_KEYS and isinstance(value_node, yaml.ScalarNode):
                text = str(value_node.value).strip()
                if text and not _is_null(value_node):
                    yield value_node.start_mark.line + 1, None, text, [".".join(where)]
            elif key == "text" and isinstance(value_node, yaml.MappingNode):
                forms = {str(k.value): str(v.value).strip() for k, v in value_node.value}
                if "one" in forms and "other" in forms:
                    yield (
                        value_node.start_mark.line + 1,
                        "ngettext",
                        (forms["one"], forms["other"]),
                        [".".join(where)],
                    )
            else:
                yield from _walk(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*trail, str(index)))


def _is_null(node: yaml.ScalarNode) -> bool:
    """`hours: null` (or `~`) means "unknown", not a text to translate."""
    return node.style is None and node.value in NULLS  # a quoted "null" stays a string


def extract_content(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Babel extraction method: yields (line, funcname, message, comments)."""
    document = yaml.compose(fileobj.read().decode("utf-8"))
    if document is not None:
        yield from _walk(document, ())
