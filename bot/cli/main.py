"""The ``lagesbild`` command: run the bot and the admin chores around it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from bot.cli import export as cli_export
from bot.cli import members as cli_members
from bot.cli import preview as cli_preview
from bot.cli import retention as cli_retention
from bot.cli.config import config_path, in_session, load_or_exit
from bot.core.logs import configure_logging
from bot.core.runner import serve
from bot.core.settings import Settings
from bot.features.members.invite import invite_link
from storage.members import ROLES, add_member, create_invite
from storage.migrate import upgrade


def cmd_check_config(args, settings) -> int:
    path = config_path(settings, args.path)
    config = load_or_exit(path)
    print(f"Konfigurationen {path} är giltig: {config.kommun}, {len(config.areas)} områden, "
          f"{len(config.organisations)} organisationer, {len(config.categories)} kategorier.")
    return 0


def cmd_db(args, settings) -> int:

    upgrade(settings.database_url)
    print("Databasen är uppdaterad.")
    return 0


def cmd_run(args, settings) -> int:

    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        print("BOT_TOKEN saknas. Sätt miljövariabeln BOT_TOKEN till botens token från "
              "@BotFather.", file=sys.stderr)
        return 2
    token = settings.bot_token.get_secret_value().strip()
    config = load_or_exit(config_path(settings))
    configure_logging(settings.log_level, secrets=[token])
    upgrade(settings.database_url)
    return asyncio.run(serve(config, token=token, database_url=settings.database_url,
                             base_url=settings.telegram_api_url))




def cmd_admin_add(args, settings) -> int:
    config = load_or_exit(config_path(settings))
    org_key = args.org or next((o.key for o in config.organisations if o.kind == "kommun"),
                               config.organisations[0].key)
    if config.organisation(org_key) is None:
        print(f"Okänd organisation: {org_key}. Finns: "
              f"{', '.join(o.key for o in config.organisations)}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)

    async def work(session):
        return await add_member(session, telegram_user_id=args.telegram_user_id,
                                first_name=args.name, role="admin", org_key=org_key,
                                now=datetime.now(UTC))

    in_session(settings, work)
    print(f"Användare {args.telegram_user_id} är admin för {org_key}. "
          "Hen skriver /start till boten för att börja.")
    return 0


def cmd_invite(args, settings) -> int:
    if args.action != "create":
        return cli_members.run_invite_admin(args, settings)
    if not args.role or not args.org:
        print("Ange både --role och --org för en ny inbjudan.", file=sys.stderr)
        return 2
    config = load_or_exit(config_path(settings))
    if config.organisation(args.org) is None:
        print(f"Okänd organisation: {args.org}. Finns: "
              f"{', '.join(o.key for o in config.organisations)}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)

    async def work(session):
        return await create_invite(session, role=args.role, org_key=args.org,
                                   now=datetime.now(UTC), hours=args.hours)

    token = in_session(settings, work)
    print(f"/start {token}")
    link = invite_link(args.bot_username or config.bot_username, token)
    if link:
        print(link)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lagesbild", description="Lägesbild – EST-bot")
    sub = root.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="kör boten (hämtar uppdateringar från Telegram)")
    check = sub.add_parser("check-config", help="kontrollera en konfigurationsfil")
    check.add_argument("path", nargs="?")
    db = sub.add_parser("db", help="databasen")
    db.add_argument("action", choices=["upgrade"])
    admin = sub.add_parser("admin", help="administratörer")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    add = admin_sub.add_parser("add", help="gör en Telegram-användare till admin")
    add.add_argument("telegram_user_id", type=int)
    add.add_argument("--org", help="organisationens nyckel (standard: kommunen)")
    add.add_argument("--name", default="Admin", help="visningsnamn tills personen skriver /start")
    invite = sub.add_parser("invite", help="skapa, lista eller återkalla inbjudningar")
    invite.add_argument("action", nargs="?", choices=["create", "list", "revoke"],
                        default="create")
    invite.add_argument("id", nargs="?", type=int, help="inbjudans nummer (för revoke)")
    invite.add_argument("--role", choices=ROLES)
    invite.add_argument("--org")
    invite.add_argument("--hours", type=float, default=72)
    invite.add_argument("--bot-username", help="botens användarnamn för t.me-länken")
    cli_preview.add_parser(sub)
    cli_members.add_parsers(sub)
    cli_retention.add_parser(sub)
    cli_export.add_parser(sub)
    return root


COMMANDS = {"run": cmd_run, "check-config": cmd_check_config, "db": cmd_db,
            "admin": cmd_admin_add, "invite": cmd_invite, "preview": cli_preview.run,
            "export": cli_export.run, "member": cli_members.run_member,
            "audit": cli_members.run_audit,
            "purge": cli_retention.run, "hold": cli_retention.run}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args, Settings())


if __name__ == "__main__":
    sys.exit(main())
