"""Everything the bot sends on its own: the outbox delivery, the schedules, the composed posts."""
