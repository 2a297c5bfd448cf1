"""Every text the bot sends comes from a Jinja2 macro in ``templates/``.

A template file holds the messages of one feature as macros; ``render("report",
"receipt", ...)`` calls one. Autoescaping is on because the texts go out in
Telegram's HTML parse mode.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
LOCALE = "sv_SE"
# Macros that include other macros leave stacked blank lines; one is enough.
_BLANK_RUNS = re.compile(r"\n{3,}")


class Messages:
    """Renders templates in the deployment's time zone."""

    def __init__(self, tz: ZoneInfo, **globals_: object) -> None:
        self.tz = tz
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=StrictUndefined,
            keep_trailing_newline=False,
        )
        self.env.globals.update(globals_)
        self.env.filters.update(
            datum=self.date_time, klocka=self.clock, dag=self.day, ar_dag=self.dated
        )

    def render(self, template: str, macro: str, /, **context: object) -> str:
        module = self.env.get_template(f"{template}.j2").module
        text = str(getattr(module, macro)(**context))
        text = "\n".join(line.rstrip() for line in text.strip().splitlines())
        return _BLANK_RUNS.sub("\n\n", text)

    def date_time(self, moment: datetime) -> str:
        return format_datetime(moment, "d MMM HH:mm", tzinfo=self.tz, locale=LOCALE)

    def clock(self, moment: datetime) -> str:
        return format_datetime(moment, "HH:mm", tzinfo=self.tz, locale=LOCALE)

    def dated(self, moment: datetime) -> str:
        """A day with its year, for what may be long ago: "20 nov. 2026"."""
        return format_date(moment.astimezone(self.tz), "d MMM y", locale=LOCALE)

    def day(self, moment: datetime) -> str:
        return format_date(moment.astimezone(self.tz), "EEEE d MMMM", locale=LOCALE)
