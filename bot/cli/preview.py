"""``lagesbild preview lagesbild|digest|briefing [--date DATE] [--out DIR]``.

Prints what the scheduled post would say and writes its PNGs, sending nothing and
changing nothing in the database. The posts that can be previewed, their clocks and
their composers come from their description (est.posts.PREVIEWS). With ``--date`` the
post is composed as of that day at its scheduled local time (the post's clock from the
config's ``[schedule]``, or the config's default clock when that post is turned off);
without it, as of now.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot.cli.config import config_path, load_or_exit
from bot.core.services import Services
from bot.outbound import posts
from est.posts import PREVIEWS, post_kind
from storage.db import Database

KINDS = tuple(p.kind for p in PREVIEWS)
_TAG = re.compile(r"<[^>]+>")


def add_parser(sub: argparse._SubParsersAction) -> None:
    preview = sub.add_parser("preview", help="visa ett schemalagt utskick utan att skicka det")
    preview.add_argument("what", choices=KINDS,
                         help=", ".join(f"{p.kind} ({p.name})" for p in PREVIEWS))
    preview.add_argument("--date", type=_parse_date, default=None,
                         help="datum ÅÅÅÅ-MM-DD (standard: nu)")
    preview.add_argument("--out", default=".", help="katalog för bilderna (standard: här)")
    preview.add_argument("--html", action="store_true",
                         help="skriv texten med HTML-taggar, som den skickas")


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ogiltigt datum {value!r}: skriv ÅÅÅÅ-MM-DD") \
            from None


def scheduled_moment(config, what: str, day: date | None) -> datetime:
    """The UTC moment the preview is composed for."""
    if day is None:
        return datetime.now(UTC)
    post = post_kind(what)
    times = post.times(config.schedule)
    clock = times[0][1] if times else post.default_clock()
    return datetime.combine(day, clock, tzinfo=config.tz).astimezone(UTC)


def plain(text: str) -> str:
    """Telegram HTML as a terminal shows it best: tags gone, entities decoded."""
    return html.unescape(_TAG.sub("", text))


async def _compose(config, database_url: str, what: str, moment: datetime):
    db = Database(database_url)
    try:
        services = Services(config=config, db=db, clock=lambda: moment)
        return await posts.compose(what, services, moment)
    finally:
        await db.dispose()


def run(args: argparse.Namespace, settings) -> int:
    config = load_or_exit(config_path(settings))
    moment = scheduled_moment(config, args.what, args.date)
    try:
        post = asyncio.run(_compose(config, settings.database_url, args.what, moment))
    except (DBAPIError, OSError) as error:  # no database, not migrated, or another fault
        cause = getattr(error, "orig", None) or error  # the driver's own error, not the SQL
        detail = (str(cause).strip().splitlines() or [""])[0]
        # Only a missing table is cured by migrating; say what went wrong in any case.
        missing = re.search(r"no such table|relation .* does not exist", detail)
        hint = " Kör först: lagesbild db upgrade" if missing else ""
        print(f"Kunde inte läsa databasen ({type(cause).__name__}: {detail}).{hint}",
              file=sys.stderr)
        return 1
    local = moment.astimezone(config.tz)
    print(f"Förhandsvisning av {args.what} för {local:%Y-%m-%d %H:%M} ({config.timezone}) "
          "– inget skickas.")
    if post.skip_reason:
        print(f"Utskicket hoppas över: {post.skip_reason}.")
    show = (lambda text: text) if args.html else plain
    for number, text in enumerate(post.texts, start=1):
        print(f"\n----- meddelande {number} av {len(post.texts)} ({len(text)} tecken) -----")
        print(show(text))
    if post.images:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        print()
        for image in post.images:
            path = out / image.filename
            path.write_bytes(image.png)
            print(f"Bild: {path} ({len(image.png) // 1024} kB) – {show(image.caption)}")
    return 0
