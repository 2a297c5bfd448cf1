"""``lagesbild export``: the reports of a period as CSV, XLSX or GeoJSON, from the shell.

Reads DATABASE_URL and LAGESBILD_CONFIG like the bot. The rules are those of /export
(est.export): visibility as for a coordinator of one organisation, no reporter
identity, withdrawn reports left out.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.config import config_path, in_session, load_or_exit
from est import export as ex
from est.config import DeploymentConfig
from storage import audit
from storage.db import Database
from storage.export import export_records

DESCRIPTION = """\
Exportera rapporterna för en period (dagen då det inträffade, lokal tid, båda dagarna
inräknade) som en samordnare ser dem: alla förmedlade rapporter plus en organisations
egna, med fritext. Tillbakatagna rapporter och vem som rapporterade kommer aldrig med.
Databas och konfiguration läses från DATABASE_URL och LAGESBILD_CONFIG."""

EPILOG = """\
Utdata:
  csv      UTF-8 med BOM, semikolon som avgränsare, decimalkomma och tider som
           ÅÅÅÅ-MM-DD TT:MM: öppnas direkt i svensk Excel. Skrivs till standard ut
           om inte --out anges.
  geojson  FeatureCollection med punkter [lon, lat] (WGS84); rapporter utan
           koordinater utelämnas. Skrivs till standard ut om inte --out anges.
  xlsx     Excel-fil. Skrivs som standard till lagesbild-ÅÅÅÅMMDD-ÅÅÅÅMMDD.xlsx i
           aktuell katalog (binärdata hör inte hemma i en terminal); --out - skriver
           till standard ut, t.ex. för att skicka vidare i ett rör.
En sammanfattning skrivs till standard fel. Felaktiga datum ger felkod 2.

Exempel:
  lagesbild export --from 2026-11-01 --to 2026-11-30 --format csv > november.csv
  lagesbild export --from 2026-11-01 --to 2026-11-30 --format xlsx --org polisen
  lagesbild export --from 2026-11-01 --to 2026-11-30 --format geojson --shared-only"""

STDOUT = "-"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export", help="exportera rapporter för en period (CSV, XLSX eller GeoJSON)",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="date_from", required=True, metavar="DATUM",
                        help="första dagen, ÅÅÅÅ-MM-DD")
    parser.add_argument("--to", dest="date_to", required=True, metavar="DATUM",
                        help="sista dagen (inräknad), ÅÅÅÅ-MM-DD")
    parser.add_argument("--format", choices=ex.FORMATS, default="csv",
                        help="filformat (standard: csv)")
    parser.add_argument("--out", metavar="FIL",
                        help="fil att skriva till; - betyder standard ut (standard: standard "
                             "ut för csv och geojson, en fil med periodens namn för xlsx)")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--org", metavar="NYCKEL",
                      help="vems vy: förmedlade rapporter plus den här organisationens egna "
                           "(standard: kommunens organisation i konfigurationen)")
    view.add_argument("--shared-only", action="store_true",
                      help="bara förmedlade rapporter, inga organisationers egna")


def _error(message: str) -> int:
    print(f"lagesbild export: {message}", file=sys.stderr)
    return 2


def _viewer(args: argparse.Namespace, config: DeploymentConfig) -> tuple[str | None, str]:
    """(org key or None for förmedlade only, a Swedish description of the view)."""
    if args.shared_only:
        return None, "bara förmedlade rapporter"
    key = args.org or next((o.key for o in config.organisations if o.kind == "kommun"), None)
    if key is None:
        return None, "bara förmedlade rapporter (ingen kommunorganisation i konfigurationen)"
    org = config.organisation(key)
    if org is None:
        raise LookupError(key)
    return key, f"förmedlade rapporter och egna från {org.name}"


async def _records(database_url: str, period: ex.Period, config: DeploymentConfig,
                   viewer_org_key: str | None) -> list[ex.ReportRecord]:
    since, until = period.bounds(config.tz)
    db = Database(database_url)
    try:
        async with db.session() as session:
            return await export_records(session, since=since, until=until,
                                        viewer_org_key=viewer_org_key)
    finally:
        await db.dispose()


def run(args: argparse.Namespace, settings) -> int:
    try:
        period = ex.Period(ex.parse_date(args.date_from), ex.parse_date(args.date_to))
    except ex.PeriodError as error:
        return _error(str(error))
    config = load_or_exit(config_path(settings))
    try:
        viewer, view_text = _viewer(args, config)
    except LookupError:
        return _error(f"okänd organisation: {args.org}. Finns: "
                      f"{', '.join(o.key for o in config.organisations)}")

    try:
        records = asyncio.run(_records(settings.database_url, period, config, viewer))
    except (SQLAlchemyError, OSError) as error:
        print(f"lagesbild export: databasen kunde inte läsas ({type(error).__name__}). "
              "Kontrollera DATABASE_URL och kör vid behov 'lagesbild db upgrade'.",
              file=sys.stderr)
        return 1
    skipped: list[str] = []
    rows = ex.export_rows(records, config, viewer, skipped)
    data = ex.WRITERS[args.format](rows)

    target = args.out or (period.filename("xlsx") if args.format == "xlsx" else STDOUT)
    if target == STDOUT:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        where = "standard ut"
    else:
        try:
            Path(target).write_bytes(data)
        except OSError as error:
            return _error(f"kunde inte skriva {target}: {error.strerror or error}")
        where = target
    in_session(settings, lambda session: audit.record(
        session, "export", now=datetime.now(UTC), actor=audit.SHELL, object_kind="reports",
        details={"period": period.label(), "formats": [args.format], "reports": len(rows),
                 "view": viewer or "alla"}))
    missing = sum(1 for row in rows if not row.has_coordinates)
    summary = f"{len(rows)} {'rapport' if len(rows) == 1 else 'rapporter'}"
    if args.format == "geojson" and missing:
        summary += f" ({missing} utan koordinater utelämnade)"
    print(f"Exporterade {summary} för {period.label()} ({view_text}) som {args.format} "
          f"till {where}.", file=sys.stderr)
    if skipped:
        print(f"lagesbild export: {len(skipped)} rapporter kunde inte tas med: "
              f"{', '.join(skipped)}", file=sys.stderr)
    return 0
