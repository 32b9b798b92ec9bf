"""The dialogue engine shared by the Telegram bot and the terminal chat.

`Engine.respond` is a pure function of an event, the chat's state and what the NLU and
the crisis safety net made of the text; `Assistant` wraps it with Redis and the NLU.
"""
