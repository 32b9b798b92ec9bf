"""Locale choice and gettext catalogs (Babel).

French is the source language of every text in `responses/`; English and Bambara come
from `locales/<lang>/LC_MESSAGES/messages.mo`.
"""

from __future__ import annotations

from pathlib import Path

from babel.core import negotiate_locale as babel_negotiate
from babel.support import NullTranslations, Translations

from bot.content.phones import check_no_phone_numbers

SOURCE_LOCALE = "fr"
LOCALES: tuple[str, ...] = ("fr", "bm", "en")
DOMAIN = "messages"


def negotiate_locale(language_code: str | None) -> str:
    """Pick fr, bm or en for a Telegram `language_code` such as "en-US" or "fr".

    Anything unknown (or missing) falls back to French, the language most Malian
    readers of a written message share.
    """
    if not language_code:
        return SOURCE_LOCALE
    preferred = [language_code.replace("-", "_")]
    chosen = babel_negotiate(preferred, list(LOCALES), sep="_")
    return chosen if chosen in LOCALES else SOURCE_LOCALE


def load_translations(locales_dir: Path) -> dict[str, NullTranslations]:
    """Load the compiled catalog of every locale; the source locale needs none.

    A missing `.mo` file is an installation error (catalogs are compiled by the build),
    so it raises instead of silently showing French to a Bambara reader.
    """
    loaded: dict[str, NullTranslations] = {SOURCE_LOCALE: NullTranslations()}
    for locale in LOCALES:
        if locale == SOURCE_LOCALE:
            continue
        mo = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo.with_suffix(".po").exists():  # a translator's number is refused like any other
            check_no_phone_numbers(mo.with_suffix(".po"))
        if not mo.exists():
            raise FileNotFoundError(
                f"missing compiled catalog {mo}: run `make catalogs` (pybabel compile)"
            )
        translations = Translations.load(str(locales_dir), [locale], DOMAIN)
        loaded[locale] = translations
    return loaded
