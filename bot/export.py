"""Placeholder wiring; the feature module is being written."""

from telegram.ext import BaseHandler


def build_export_handlers() -> list[BaseHandler]:
    return []
