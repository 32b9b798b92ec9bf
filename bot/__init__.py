"""Sini: a Telegram helpline and awareness assistant for Mali."""
