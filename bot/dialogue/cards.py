"""How a service directory entry reads in a chat message, in the reader's language.

Field labels and kind names come from the content catalog; numbers, distances and
language names are formatted with Babel for the reader's locale. Unverified entries say
so, and entries without a verified phone say how to reach them instead.
"""

from __future__ import annotations

from babel import Locale
from babel.numbers import format_decimal

from bot.content import Catalog
from bot.services import Service


def format_km(distance_km: float, locale: str) -> str:
    """ "1,2 km" in French, "1.2 km" in English; whole kilometres beyond 10 km."""
    pattern = "#,##0" if distance_km >= 10 else "#,##0.0"
    return f"{format_decimal(distance_km, format=pattern, locale=locale)} km"


def language_names(codes: tuple[str, ...], locale: str) -> str:
    """ISO codes → language names as CLDR writes them in `locale` ("bambara", "Bambara")."""
    names = Locale.parse(locale).languages
    return ", ".join(names.get(code, code) for code in codes)


def service_card(
    catalog: Catalog, service: Service, locale: str, distance_km: float | None = None
) -> str:
    """A few lines about one service; only the fields the directory actually knows."""

    def t(text: str) -> str:
        return catalog.gettext(text, locale)

    kinds = ", ".join(catalog.render(f"kind.{kind}", locale).text for kind in service.kinds)
    where = service.town or t(catalog.message("services.everywhere").text)
    if distance_km is not None:
        where = f"{where} · {format_km(distance_km, locale)}"
    lines = [f"🏥 {service.name}", f"{kinds} — {where}"]
    if service.address:
        lines.append(f"📍 {service.address}")
    if service.phones:
        lines.append(f"☎️ {' · '.join(service.phones)}")
    if service.how_to_reach:
        lines.append(f"➡️ {t(service.how_to_reach)}")
    if service.hours:
        lines.append(f"🕑 {t(service.hours)}")
    if service.languages:
        lines.append(f"🗣️ {language_names(service.languages, locale)}")
    if service.cost:
        lines.append(f"💰 {t(service.cost)}")
    if not service.verified:
        lines.append(catalog.render("services.unverified", locale).text)
    return "\n".join(lines)
