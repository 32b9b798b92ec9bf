"""Dates, durations and numbers for staff, formatted with Babel (French by default).

Mali is on UTC all year (Africa/Bamako, no daylight saving), so UTC hours are local hours;
stored tip times are whole hours and are shown as such, never with invented minutes.
"""

from __future__ import annotations

import datetime as dt

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal

# A text longer than this is shown folded: its first part, then "Lire la suite".
FOLD_AFTER = 1500


class Formatter:
    """Formatting bound to one locale; exposed to the templates as filters."""

    def __init__(self, locale: str = "fr") -> None:
        self.locale = locale
        self._plural = Locale.parse(locale).plural_form

    def datetime(self, moment: dt.datetime | None) -> str:
        """ "14 mars 2025 à 14:00" (UTC = Bamako time)."""
        if moment is None:
            return "—"
        return format_datetime(
            moment, "d MMM y 'à' HH:mm", tzinfo=dt.timezone.utc, locale=self.locale
        )

    def date(self, moment: dt.date | None) -> str:
        if moment is None:
            return "—"
        return format_date(moment, "d MMM y", locale=self.locale)

    def short_date(self, day: dt.date) -> str:
        """ "3 mars": chart axis labels."""
        return format_date(day, "d MMM", locale=self.locale)

    def age(self, moment: dt.datetime, now: dt.datetime) -> str:
        """ "il y a 3 jours": how long a tip has waited, rounded the way people say it."""
        delta = moment - now
        if abs(delta) < dt.timedelta(hours=1):
            return "il y a moins d'une heure"
        return format_timedelta(delta, add_direction=True, threshold=1.1, locale=self.locale)

    def duration(self, hours: float) -> str:
        """ "3 jours", "5 heures": a duration in the unit a person would use."""
        if hours < 1:
            return "moins d'une heure"
        return format_timedelta(dt.timedelta(hours=hours), threshold=1.1, locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def decimal1(self, value: float) -> str:
        return format_decimal(value, format="#,##0.0", locale=self.locale)

    def plural(self, count: int, one: str, other: str) -> str:
        """`one` or `other` as the locale's grammar wants for `count` (French: 0 and 1 take
        the singular)."""
        return one if self._plural(count) == "one" else other

    def deletion(self, moment: dt.datetime, now: dt.datetime) -> str:
        """When retention deletes a tip: "supprimé le …" while that is ahead; once the date
        has passed the tip waits for the next purge, and saying "supprimé le" would be false."""
        if moment > now:
            return f"supprimé le {self.datetime(moment)}"
        return "suppression en attente"


def fold(text: str, limit: int = FOLD_AFTER) -> tuple[str, str]:
    """`text` cut in two after about `limit` characters, at a space or a line break so no
    word is split: (what is shown at once, the rest, empty when the text is short)."""
    if len(text) <= limit:
        return text, ""
    cut = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
    if cut <= 0:
        cut = limit
    return text[:cut], text[cut:]
