"""``lagesbild member …``, ``lagesbild invite list|revoke`` and ``lagesbild audit``.

The same storage functions as /medlemmar and /logg, so the shell's changes are checked
(the last admin stays) and written to the audit log alike, with the shell as actor.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import UTC, date, datetime, time, timedelta

from bot.cli.config import config_path, in_session, load_or_exit
from bot.cli.preview import plain
from messages.render import Messages
from storage import audit
from storage import members as store
from storage.members import ROLES
from storage.migrate import upgrade

ROLE_NAMES = {"reporter": "rapportör", "coordinator": "samordnare", "admin": "admin"}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    member = sub.add_parser("member", help="medlemmar: lista, byt roll, avsluta")
    member_sub = member.add_subparsers(dest="member_command", required=True)
    listing = member_sub.add_parser("list", help="medlemmarna per organisation")
    listing.add_argument("--org", help="bara den här organisationens nyckel")
    role = member_sub.add_parser("role", help="byt roll för en medlem")
    role.add_argument("telegram_user_id", type=int)
    role.add_argument("role", choices=ROLES)
    remove = member_sub.add_parser("remove", help="avsluta en medlems medlemskap")
    remove.add_argument("telegram_user_id", type=int)
    audit_parser = sub.add_parser("audit", help="loggen: vem gjorde vad")
    audit_parser.add_argument("--from", dest="date_from", type=date.fromisoformat,
                              help="från och med ÅÅÅÅ-MM-DD")
    audit_parser.add_argument("--to", dest="date_to", type=date.fromisoformat,
                              help="till och med ÅÅÅÅ-MM-DD")
    audit_parser.add_argument("--format", choices=["text", "csv"], default="text")


def _fail(message: str) -> int:
    print(f"lagesbild: {message}", file=sys.stderr)
    return 2


def run_member(args: argparse.Namespace, settings) -> int:
    config = load_or_exit(config_path(settings))
    upgrade(settings.database_url)
    now = datetime.now(UTC)
    if args.member_command == "list":
        if args.org and config.organisation(args.org) is None:
            return _fail(f"okänd organisation: {args.org}")
        rows = in_session(settings, lambda s: store.list_members(s, args.org))
        for member, last in rows:
            seen = last.astimezone(config.tz).date().isoformat() if last else "–"
            print(f"{member.telegram_user_id}\t{ROLE_NAMES[member.role]}\t{member.org_key}\t"
                  f"{member.first_name}\tsenaste rapport {seen}")
        print(f"{len(rows)} medlemmar.")
        return 0

    async def change(session):
        member = await store.member_by_user(session, args.telegram_user_id)
        if member is None:
            return "ingen medlem har Telegram-id " + str(args.telegram_user_id)
        try:
            if args.member_command == "role":
                await store.set_role(session, member, args.role, now=now, by_member_id=None)
            else:
                await store.end_membership(session, member, now=now, by_member_id=None)
        except store.MemberProblem:
            return "det går inte: boten skulle stå utan administratör"
        return None

    problem = in_session(settings, change)
    if problem:
        return _fail(problem)
    if args.member_command == "role":
        print(f"{args.telegram_user_id} är nu {ROLE_NAMES[args.role]}.")
    else:
        print(f"Medlemskapet för {args.telegram_user_id} är avslutat. Rapporterna finns kvar.")
    return 0


def run_invite_admin(args: argparse.Namespace, settings) -> int:
    """``invite list`` and ``invite revoke ID``."""
    config = load_or_exit(config_path(settings))
    upgrade(settings.database_url)
    now = datetime.now(UTC)
    if args.action == "list":
        invites = in_session(settings, lambda s: store.open_invites(s, now))
        for invite in invites:
            expires = invite.expires_at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
            print(f"{invite.id}\t{ROLE_NAMES[invite.role]}\t{invite.org_key}\t"
                  f"skapad av {invite.created_by_member_id or 'terminalen'}\tgäller till {expires}")
        print(f"{len(invites)} öppna inbjudningar.")
        return 0
    if args.id is None:
        return _fail("ange inbjudans nummer: lagesbild invite revoke ID")
    revoked = in_session(settings, lambda s: store.revoke_invite(s, args.id, now=now,
                                                                 by_member_id=None))
    if revoked is None:
        return _fail(f"ingen öppen inbjudan med nummer {args.id}")
    print(f"Inbjudan {args.id} är återkallad.")
    return 0


def run_audit(args: argparse.Namespace, settings) -> int:
    config = load_or_exit(config_path(settings))
    upgrade(settings.database_url)
    tz = config.tz
    since = datetime.combine(args.date_from, time(), tz) if args.date_from else None
    until = datetime.combine(args.date_to + timedelta(days=1), time(), tz) \
        if args.date_to else None
    if since and until and since >= until:
        return _fail("--from måste vara samma dag som --to eller tidigare")

    async def read(session):
        events = await audit.events(session, since=since, until=until, newest_first=False)
        ids = {e.actor_member_id for e in events if e.actor_member_id}
        ids |= {int(e.object_id) for e in events
                if e.object_kind == "member" and (e.object_id or "").isdigit()}
        return events, await store.member_names(session, ids)

    events, names = in_session(settings, read)
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["tid", "vem", "medlem", "händelse", "objekt", "id", "detaljer"])
        for e in events:
            writer.writerow([e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), e.actor,
                             e.actor_member_id or "", e.action, e.object_kind, e.object_id or "",
                             ", ".join(f"{k}={v}" for k, v in e.details.items())])
        sys.stdout.write(out.getvalue())
        return 0
    messages = Messages(tz, config=config)
    for e in events:
        print(plain(messages.render("audit", "line", e=e, names=names,
                                    area_name=config.area_name,
                                    org_name=config.organisation_name)))
    print(f"{len(events)} händelser.")
    return 0
