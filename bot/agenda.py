"""Placeholder wiring; the feature module is being written."""

from telegram.ext import BaseHandler


def build_agenda_handlers() -> list[BaseHandler]:
    return []
