"""The ``lagesbild`` command: run the bot and the admin chores around it."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime

# Start-up: `lagesbild --help` must not wait for SQLAlchemy, Telegram and the export stack.
# Heavy modules are imported inside the commands, and the subcommands that live in their
# own modules are only imported when one of them runs (or its own --help is asked for):
# module → (the function that adds its parsers, {command: help shown by `lagesbild --help`}).
# tests/test_cli_help.py checks that these help texts are the ones the modules register.
SUBCOMMAND_MODULES: dict[str, tuple[str, dict[str, str]]] = {
    "bot.cli.preview": ("add_parser", {
        "preview": "visa ett schemalagt utskick utan att skicka det"}),
    "bot.cli.members": ("add_parsers", {
        "member": "medlemmar: lista, byt roll, avsluta",
        "audit": "loggen: vem gjorde vad"}),
    "bot.cli.export": ("add_parser", {
        "export": "exportera rapporter för en period (CSV, XLSX eller GeoJSON)"}),
    "bot.cli.retention": ("add_parser", {
        "purge": "gallra enligt [retention] (med --dry-run: visa bara vad som gallras)",
        "hold": "spärrar mot gallring: lägg till, lista, ta bort"}),
}


def cmd_check_config(args, settings) -> int:
    from bot.cli.config import config_path, load_or_exit

    path = config_path(settings, args.path)
    config = load_or_exit(path)
    print(f"Konfigurationen {path} är giltig: {config.kommun}, {len(config.areas)} områden, "
          f"{len(config.organisations)} organisationer, {len(config.categories)} kategorier.")
    return 0


def cmd_db(args, settings) -> int:
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    print("Databasen är uppdaterad.")
    return 0


def cmd_run(args, settings) -> int:
    import asyncio

    from bot.cli.config import config_path, load_or_exit
    from bot.core.logs import configure_logging
    from bot.core.runner import serve
    from storage.migrate import upgrade

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
    from bot.cli.config import config_path, in_session, load_or_exit
    from storage.members import add_member
    from storage.migrate import upgrade

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
    from bot.cli.config import config_path, in_session, load_or_exit
    from bot.features.members.invite import invite_link
    from storage.members import create_invite
    from storage.migrate import upgrade

    if args.action != "create":
        from bot.cli.members import run_invite_admin
        return run_invite_admin(args, settings)
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


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; only ``command``'s own module is imported for its arguments."""
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
    if command == "invite":  # the roles come from storage (SQLAlchemy): only when needed
        _invite_arguments(invite)
    for module, (adder, helps) in SUBCOMMAND_MODULES.items():
        if command in helps:
            getattr(importlib.import_module(module), adder)(sub)
        else:
            for name, text in helps.items():  # a placeholder: listed, never parsed
                sub.add_parser(name, help=text)
    return root


def _invite_arguments(invite: argparse.ArgumentParser) -> None:
    from storage.members import ROLES

    invite.add_argument("action", nargs="?", choices=["create", "list", "revoke"],
                        default="create")
    invite.add_argument("id", nargs="?", type=int, help="inbjudans nummer (för revoke)")
    invite.add_argument("--role", choices=ROLES)
    invite.add_argument("--org")
    invite.add_argument("--hours", type=float, default=72)
    invite.add_argument("--bot-username", help="botens användarnamn för t.me-länken")


# command → its function, or "module:function" for the subcommand modules above.
COMMANDS: dict[str, Callable | str] = {
    "run": cmd_run, "check-config": cmd_check_config, "db": cmd_db,
    "admin": cmd_admin_add, "invite": cmd_invite, "preview": "bot.cli.preview:run",
    "export": "bot.cli.export:run", "member": "bot.cli.members:run_member",
    "audit": "bot.cli.members:run_audit",
    "purge": "bot.cli.retention:run", "hold": "bot.cli.retention:run"}


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the root parser has no valued options)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(_command_in(argv)).parse_args(argv)
    command = COMMANDS[args.command]
    if isinstance(command, str):
        module, function = command.split(":")
        command = getattr(importlib.import_module(module), function)
    from bot.core.settings import Settings
    return command(args, Settings())


if __name__ == "__main__":
    sys.exit(main())
