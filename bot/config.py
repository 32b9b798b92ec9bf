"""The bot's settings, declared with the dashboard's in `sini.settings` (one place for
every environment variable); the bot's modules import them from here."""

from sini.settings import PROJECT_ROOT, ConfigError, Settings

__all__ = ["PROJECT_ROOT", "ConfigError", "Settings"]
