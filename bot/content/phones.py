"""Phone numbers are written in exactly one place: `services.yml`, each with its source.

Every other content file is read line by line for anything shaped like a phone number —
8-digit national numbers, short codes written in groups ("80 333"), runs of five digits
or more, and a number right after a word such as "appelle", "ligne" or "call" ("le 17") —
so a number copied into a text, a label or a source stops the load at its line.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.yamlfile import ContentError

_GROUPED = r"\+?\d{2,4}(?:[ .\u00a0\u202f]\d{2,4})+"  # 80 00 11 32, 80 333, 20.22.33.44
_LONG = r"\d{5,}"  # 80001132, 80333
_CALLED = (
    r"(?:appel\w*|compose[rz]?|num[ée]ro|ligne|t[ée]l[ée]?phone|t[ée]l\.?|call|dial|phone|"
    r"hotline|whatsapp|sms)\W{0,3}(?:(?:le|au|the|at|on)\s+)?\+?\d{2,4}"
)
PHONE_LIKE = re.compile(
    rf"(?<![\w°/,.-])(?:{_GROUPED}|{_LONG})(?![\w/-])|\b{_CALLED}\b", re.IGNORECASE
)


def phone_numbers(text: str) -> list[str]:
    """Everything in `text` that reads as a phone number."""
    return [match.group(0) for match in PHONE_LIKE.finditer(text)]


def check_no_phone_numbers(path: Path) -> None:
    """ContentError at the first line of `path` that holds a phone-like number."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found = phone_numbers(line)
        if found:
            raise ContentError(
                path,
                number,
                "phone number",
                f"{found[0]!r} looks like a phone number: numbers are written only in "
                "services.yml, with their source",
            )
