"""``lagesbild purge [--dry-run]`` and ``lagesbild hold add|list|remove``: the gallring.

Reads DATABASE_URL and LAGESBILD_CONFIG like the bot. ``purge`` runs the same gallring as
the nightly job (storage.retention.purge), with the shell as actor in the audit log;
``--dry-run`` only counts and changes nothing, not even the audit log. Neither command
migrates the database: run ``lagesbild db upgrade`` first, as for ``export``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.config import config_path, load_or_exit
from est import retention as rules
from est.config import DeploymentConfig
from est.retention import PURGE_KINDS, HoldProblem, PurgeResult
from storage import audit
from storage import retention as store
from storage.db import Database
from storage.models import LegalHold

PURGE_DESCRIPTION = """\
Gallra enligt konfigurationens [retention] (kommunens gallringsbeslut), samma gallring
som boten gör varje natt kl. 03.30: rapporternas fritext, kopplingen till rapportören,
gamla rapporter (veckosummorna per område sparas), övergivna dialoger, utskicksrader,
hanterade uppdateringar, avslutade medlemmars namn och gamla loggrader. Rapporter under
en spärr (lagesbild hold) rörs inte. Varje steg skrivs i loggen med sitt antal.
Arbetet görs i omgångar om 500 rader; avbryts det, gör nästa körning klart resten."""

HOLD_DESCRIPTION = """\
En spärr (t.ex. vid en begäran om utlämnande, en utredning eller ett överklagande)
stoppar all gallring av rapporterna som inträffade (lokalt datum) från och med --from
till och med --to, i ett område eller i alla, tills spärren tas bort."""

HOLD_EPILOG = """\
Exempel:
  lagesbild hold add --area vivalla --from 2026-10-01 --to 2026-10-31 \\
      --reason "Begäran om utlämnande, dnr KS 2026/123"
  lagesbild hold list
  lagesbild hold remove 3"""


def now() -> datetime:
    """The moment a command acts at (tests put their own clock here)."""
    return datetime.now(UTC)


def add_parser(sub: argparse._SubParsersAction) -> None:
    purge = sub.add_parser(
        "purge", help="gallra enligt [retention] (med --dry-run: visa bara vad som gallras)",
        description=PURGE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    purge.add_argument("--dry-run", action="store_true",
                       help="räkna bara vad som skulle gallras nu; ändrar ingenting")
    hold = sub.add_parser(
        "hold", help="spärrar mot gallring: lägg till, lista, ta bort",
        description=HOLD_DESCRIPTION, epilog=HOLD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    hold_sub = hold.add_subparsers(dest="hold_command", required=True)
    add = hold_sub.add_parser("add", help="lägg en spärr")
    add.add_argument("--area", metavar="NYCKEL",
                     help="områdets nyckel (utan --area gäller spärren alla områden)")
    add.add_argument("--from", dest="date_from", required=True, metavar="DATUM",
                     help="första dagen, ÅÅÅÅ-MM-DD")
    add.add_argument("--to", dest="date_to", required=True, metavar="DATUM",
                     help="sista dagen (inräknad), ÅÅÅÅ-MM-DD")
    add.add_argument("--reason", required=True, metavar="TEXT",
                     help="varför, t.ex. diarienummer (högst 300 tecken)")
    listing = hold_sub.add_parser("list", help="visa spärrarna")
    listing.add_argument("--all", action="store_true", help="även borttagna spärrar")
    remove = hold_sub.add_parser("remove", help="ta bort en spärr")
    remove.add_argument("id", metavar="ID", help="spärrens nummer (se hold list)")


def _error(command: str, message: str) -> int:
    print(f"lagesbild {command}: " + "\n  ".join(message.splitlines()), file=sys.stderr)
    return 2


def _database_error(command: str, error: Exception) -> int:
    print(f"lagesbild {command}: databasen kunde inte läsas ({type(error).__name__}). "
          "Kontrollera DATABASE_URL och kör vid behov 'lagesbild db upgrade'.",
          file=sys.stderr)
    return 1


async def _in_database(database_url: str, work):
    db = Database(database_url)
    try:
        return await work(db)
    finally:
        await db.dispose()


def run(args: argparse.Namespace, settings) -> int:
    config = load_or_exit(config_path(settings))
    command = "purge" if args.command == "purge" else f"hold {args.hold_command}"
    try:
        if args.command == "purge":
            return _purge(args, settings, config)
        return _hold(args, settings, config)
    except HoldProblem as problem:
        return _error(command, str(problem))
    except (SQLAlchemyError, OSError) as error:
        return _database_error(command, error)


# ---------------------------------------------------------------- purge

def _purge(args: argparse.Namespace, settings, config: DeploymentConfig) -> int:
    moment = now()

    async def work(db: Database) -> PurgeResult:
        if args.dry_run:
            async with db.session() as session:
                return await store.due_counts(session, config, moment)
        return await store.purge(db, config, now=moment, actor=audit.SHELL)

    result = asyncio.run(_in_database(settings.database_url, work))
    local = moment.astimezone(config.tz)
    print(f"Gallring enligt [retention] för {config.kommun}, {local:%Y-%m-%d %H:%M} "
          f"({config.timezone}).")
    print("Provkörning – ingenting ändras. Det här skulle gallras nu:" if result.dry_run
          else "Det här gallrades:")
    for line in purge_lines(result, config):
        print(line)
    if result.held:
        print(f"Spärrar håller kvar {_n(result.held, 'rapport', 'rapporter')} som annars "
              "skulle gallras (lagesbild hold list).")
    print("Kör utan --dry-run för att gallra." if result.dry_run
          else "Varje steg står i loggen med sitt antal.")
    return 0


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def purge_lines(result: PurgeResult, config: DeploymentConfig) -> list[str]:
    """One line per kind: its name, its period from [retention], the count."""
    width = max(len(kind.label) for kind in PURGE_KINDS)
    lines = []
    for kind in PURGE_KINDS:
        period = f"äldre än {kind.period_text(config.retention)}"
        number, _, unit = kind.amount(result.counts.get(kind.key, 0)).partition(" ")
        lines.append(f"  {kind.label:<{width}}  {period:<22} {number:>7} {unit}")
    lines.append(f"  {'Totalt':<{width}}  {'':<22} {result.total:>7}")
    return lines


# ---------------------------------------------------------------- holds

def _hold(args: argparse.Namespace, settings, config: DeploymentConfig) -> int:
    if args.hold_command == "add":
        return _hold_add(args, settings, config)
    if args.hold_command == "list":
        return _hold_list(args, settings, config)
    return _hold_remove(args, settings, config)


def _area_text(config: DeploymentConfig, area_key: str | None) -> str:
    return "alla områden" if area_key is None else config.area_name(area_key)


def _period_text(hold: LegalHold) -> str:
    return f"{hold.starts_on.isoformat()} – {hold.ends_on.isoformat()}"


def _hold_add(args: argparse.Namespace, settings, config: DeploymentConfig) -> int:
    request = rules.check_hold(
        config, area_key=args.area, reason=args.reason,
        starts_on=rules.parse_day(args.date_from, "--from"),
        ends_on=rules.parse_day(args.date_to, "--to"))
    moment = now()

    async def work(db: Database) -> tuple[LegalHold, int]:
        async with db.session() as session:
            added = await store.add_hold(session, request, config=config, now=moment,
                                         actor=audit.SHELL)
            await session.commit()
            return added

    hold, covered = asyncio.run(_in_database(settings.database_url, work))
    print(f"Spärr {hold.id} är lagd: {_area_text(config, hold.area_key)}, "
          f"{_period_text(hold)} ({_n(covered, 'rapport', 'rapporter')} just nu).")
    print(f"Skäl: {hold.reason}")
    print("Rapporterna gallras inte alls så länge spärren finns; ta bort den med "
          f"'lagesbild hold remove {hold.id}'.")
    return 0


def _hold_list(args: argparse.Namespace, settings, config: DeploymentConfig) -> int:
    async def work(db: Database) -> list[tuple[LegalHold, int]]:
        async with db.session() as session:
            found = await store.holds(session, include_removed=args.all)
            return [(hold, await store.reports_in_window(session, rules.hold_window(
                hold.area_key, hold.starts_on, hold.ends_on, config.tz))) for hold in found]

    rows = asyncio.run(_in_database(settings.database_url, work))
    active = sum(1 for hold, _ in rows if hold.removed_at is None)
    if not rows:
        print("Inga spärrar." if args.all else "Inga aktiva spärrar: allt gallras enligt "
              "[retention].")
        return 0
    print(f"Spärrar mot gallring ({active} aktiva):" if active != 1
          else "Spärrar mot gallring (1 aktiv):")
    for hold, covered in rows:
        created = hold.created_at.astimezone(config.tz)
        state = f"lagd {created:%Y-%m-%d}"
        if hold.removed_at is not None:
            state += f", borttagen {hold.removed_at.astimezone(config.tz):%Y-%m-%d}"
        print(f"  {hold.id:>4}  {_area_text(config, hold.area_key)}, {_period_text(hold)}, "
              f"{_n(covered, 'rapport', 'rapporter')}, {state}")
        print(f"        Skäl: {hold.reason}")
    return 0


def _hold_remove(args: argparse.Namespace, settings, config: DeploymentConfig) -> int:
    text = str(args.id).strip().lstrip("#")
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        return _error("hold remove", f"ogiltigt nummer: {args.id!r}. Skriv spärrens nummer "
                                     "från 'lagesbild hold list', t.ex. 3.")
    moment = now()

    async def work(db: Database) -> tuple[LegalHold | None, int, bool]:
        async with db.session() as session:
            removed = await store.remove_hold(session, int(text), config=config,
                                              now=moment, actor=audit.SHELL)
            await session.commit()
            return removed

    hold, covered, removed_now = asyncio.run(_in_database(settings.database_url, work))
    if hold is None:
        return _error("hold remove", f"spärr {text} finns inte (se 'lagesbild hold list').")
    if not removed_now:
        when = hold.removed_at.astimezone(config.tz)
        return _error("hold remove", f"spärr {hold.id} är redan borttagen ({when:%Y-%m-%d}).")
    print(f"Spärr {hold.id} är borttagen: {_area_text(config, hold.area_key)}, "
          f"{_period_text(hold)}. Dess {_n(covered, 'rapport', 'rapporter')} gallras från "
          "nästa körning enligt [retention].")
    return 0
