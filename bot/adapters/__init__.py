"""Thin adapters that turn a channel's updates into dialogue events and draw the replies."""
