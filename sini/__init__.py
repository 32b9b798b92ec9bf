"""What the bot and the staff dashboard share: settings, logging, the Redis connection and
transactions, and Mali's regions. Nothing here imports the bot's runtime or the dashboard."""
