"""Answer content: French source text in `responses/`, translated through gettext catalogs."""

from bot.content.catalog import Button, Catalog, Message, Rendered, load_catalog
from bot.content.i18n import LOCALES, SOURCE_LOCALE, negotiate_locale
from bot.yamlfile import ContentError

__all__ = [
    "LOCALES",
    "SOURCE_LOCALE",
    "Button",
    "Catalog",
    "ContentError",
    "Message",
    "Rendered",
    "load_catalog",
    "negotiate_locale",
]
