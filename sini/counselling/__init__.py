"""Anonymous live counselling: a young person talks to a trained counsellor through the bot.

`model` holds the pure values (a conversation, its messages, risk, status), `hours` the
opening hours, `store` the Redis side shared by the bot (requests, messages, delivery of
replies) and the dashboard (the queue, claims, replies, transfers, closing), `summary`
the anonymous daily counts a counsellor's end-of-conversation summary adds to."""
