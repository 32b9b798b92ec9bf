"""A content file with a YAML mistake is refused at the line the editor has to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.yamlfile import ContentError, load_yaml


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # a text line that lost its indentation reads as a key without ':'
        ("messages:\n  hello:\n    text: |-\n      Salut\n    encore\n    sources: []\n", 5),
        ("a:\n  b: 1\n  c\n  d: 2\n", 3),  # a key without its ':'
        ('a:\n  b: "jamais fermé\n  c: 2\n', 2),  # a quote never closed
        ("a:\n  b: [1, 2\n  c: 3\n", 2),  # a bracket never closed
        ("a:\n  b: 1\n c: 2\n", 3),  # a key indented unlike its neighbours
        ("a:\n  b: foo: bar\n", 2),
    ],
)
def test_a_syntax_error_names_the_line_to_fix(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ContentError, match=rf"bad\.yml:{line}: yaml: ") as caught:
        load_yaml(path)
    assert caught.value.line == line


def test_a_key_written_twice_is_refused_instead_of_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "twice.yml"
    path.write_text("messages:\n  hello:\n    text: Salut\n  hello:\n    text: Bonjour\n")
    with pytest.raises(ContentError, match=r"twice\.yml:4: yaml: 'hello' is defined twice"):
        load_yaml(path)


def test_every_mapping_remembers_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ok.yml"
    path.write_text("a:\n  b:\n    c: 1\n")
    assert load_yaml(path) == {"a": {"b": {"c": 1, "__line__": 3}, "__line__": 2}, "__line__": 1}
