"""Dates, durations and numbers for staff, formatted with Babel (French by default).

Mali is on UTC all year (Africa/Bamako, no daylight saving), so UTC hours are local hours;
stored tip times are whole hours and are shown as such, never with invented minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal


class Formatter:
    """Formatting bound to one locale; exposed to the templates as filters."""

    def __init__(self, locale: str = "fr") -> None:
        self.locale = locale

    def datetime(self, moment: datetime | None) -> str:
        """"14 mars 2025 à 14:00" (UTC = Bamako time)."""
        if moment is None:
            return "—"
        return format_datetime(
            moment, "d MMM y 'à' HH:mm", tzinfo=timezone.utc, locale=self.locale
        )

    def date(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        return format_date(moment, "d MMM y", locale=self.locale)

    def age(self, moment: datetime, now: datetime) -> str:
        """"il y a 3 jours": how long a tip has waited, rounded the way people say it."""
        delta = moment - now
        if abs(delta) < timedelta(hours=1):
            return "il y a moins d'une heure"
        return format_timedelta(delta, add_direction=True, threshold=1.1, locale=self.locale)

    def duration(self, hours: float) -> str:
        """"3 jours", "5 heures": a duration in the unit a person would use."""
        return format_timedelta(timedelta(hours=hours), threshold=1.1, locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def decimal1(self, value: float) -> str:
        return format_decimal(value, format="#,##0.0", locale=self.locale)
