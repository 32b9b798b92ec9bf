"""How a service directory entry reads in a chat message, in the reader's language.

Field labels and kind names come from the content catalog; numbers, distances and
language names are formatted with Babel for the reader's locale. Unverified entries say
so, and entries without a verified phone say how to reach them instead.

A list of services is one line per service (`service_line`): its name and where it is —
"à 370 km, à Bamako", or only "à Bamako" when the coordinates are too coarse for the
distance to mean anything (`bot.services.ranking.shown_km`). The full card is one tap away.
"""

from __future__ import annotations

from babel import Locale
from babel.numbers import format_decimal

from bot.content import Catalog
from bot.services import Service
from bot.services.ranking import Placed, shown_km

PHONE_TEXT_LIMIT = 500
"""What fits a phone screen without scrolling: the most any first message may hold."""


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


def where(catalog: Catalog, placed: Placed, locale: str) -> str:
    """ "à 370 km, à Bamako", or "à Bamako" when no meaningful distance is known."""
    service = placed.service
    town = service.town or catalog.render("services.everywhere", locale).text
    km = shown_km(service, placed.km)
    if km is None:
        return catalog.render("services.at_town", locale, town=town).text
    distance = format_km(km, locale)
    return catalog.render("services.at_distance", locale, distance=distance, town=town).text


def service_line(catalog: Catalog, placed: Placed, locale: str) -> str:
    """One line of a list: the service's short name and where it is."""
    return f"• {placed.service.label} — {where(catalog, placed, locale)}"


def national_line(service: Service) -> str:
    """A line reachable from anywhere, with its numbers (or nothing when it has none)."""
    if not service.phones:
        return f"☎️ {service.label}"
    return f"☎️ {service.label} : {' · '.join(service.phones)}"


def split_for_phone(text: str, limit: int = PHONE_TEXT_LIMIT) -> list[str]:
    """Cut a long text into messages of at most `limit` characters: between paragraphs
    when possible (the emergency numbers stay together, apart from the first aid), else
    between lines, else between words."""
    return [piece.strip("\n") for piece in _packed(text, ("\n\n", "\n", " "), limit)]


def _packed(text: str, separators: tuple[str, ...], limit: int) -> list[str]:
    """`text` cut at its first separator and put back together greedily, each piece at
    most `limit` characters; a part still too long is cut at the next separator (a word
    longer than a screen, at the limit itself). Empty parts are dropped."""
    if len(text) <= limit:
        return [text] if text.strip() else []
    if not separators:
        return [text[start : start + limit] for start in range(0, len(text), limit)]
    separator, *finer = separators
    pieces: list[str] = []
    current = ""
    for part in text.split(separator):
        for chunk in _packed(part, tuple(finer), limit):
            joined = f"{current}{separator}{chunk}" if current else chunk
            if len(joined) > limit:
                pieces.append(current)
                current = chunk
            else:
                current = joined
    if current:
        pieces.append(current)
    return pieces
