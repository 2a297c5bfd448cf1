"""The Telegram plumbing every feature stands on.

Wiring (app), intake (updates), gatekeeper (access), context, Telegram I/O, errors.
"""
