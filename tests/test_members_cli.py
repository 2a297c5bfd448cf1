"""``lagesbild member``, ``invite list|revoke`` and ``audit`` from the shell."""

from __future__ import annotations

from bot.cli.main import main
from storage.models import AuditEvent, Invite, Member
from tests.test_cli import env, rows  # noqa: F401  (the fixture and the reader)


def test_members_are_listed_changed_and_removed_with_the_shell_in_the_log(env, capsys):  # noqa: F811
    assert main(["admin", "add", "1001", "--org", "kommunen", "--name", "Karin"]) == 0
    assert main(["admin", "add", "1002", "--org", "kommunen", "--name", "Lars"]) == 0
    capsys.readouterr()
    assert main(["member", "list"]) == 0
    out = capsys.readouterr().out
    assert "1001\tadmin\tkommunen\tKarin\tsenaste rapport –" in out and "2 medlemmar." in out

    assert main(["member", "role", "1002", "coordinator"]) == 0
    assert main(["member", "remove", "1002"]) == 0
    # Karin is the last admin now: neither demoted nor removed.
    assert main(["member", "role", "1001", "reporter"]) == 2
    assert "utan administratör" in capsys.readouterr().err
    assert main(["member", "remove", "1001"]) == 2
    assert main(["member", "remove", "999"]) == 2
    members = {m.telegram_user_id: m for m in rows(env, Member)}
    assert members[1001].role == "admin" and members[1001].ended_at is None
    assert members[1002].role == "coordinator" and members[1002].ended_at is not None
    actions = [(e.actor, e.action) for e in rows(env, AuditEvent)]
    assert ("shell", "member.role") in actions and ("shell", "member.ended") in actions

    capsys.readouterr()
    assert main(["audit", "--format", "csv"]) == 0
    csv_out = capsys.readouterr().out
    assert csv_out.splitlines()[0] == "tid;vem;medlem;händelse;objekt;id;detaljer"
    assert "member.role" in csv_out and "from=admin, to=coordinator" in csv_out
    assert main(["audit"]) == 0
    assert "terminalen · ändrade rollen för Lars: admin → samordnare" in capsys.readouterr().out


def test_invitations_are_listed_and_revoked(env, capsys):  # noqa: F811
    assert main(["invite", "--role", "reporter", "--org", "nattvandrarna"]) == 0
    capsys.readouterr()
    assert main(["invite", "list"]) == 0
    out = capsys.readouterr().out
    assert "rapportör\tnattvandrarna\tskapad av terminalen" in out and "1 öppna" in out
    [invite] = rows(env, Invite)
    assert main(["invite", "revoke", str(invite.id)]) == 0
    assert main(["invite", "revoke", str(invite.id)]) == 2
    assert main(["invite", "list"]) == 0
    assert "0 öppna inbjudningar." in capsys.readouterr().out
    assert main(["invite"]) == 2  # a new invitation needs --role and --org


def test_a_purge_and_a_hold_read_as_swedish_in_the_audit_log(env, capsys):  # noqa: F811
    assert main(["purge"]) == 0
    assert main(["hold", "add", "--area", "vivalla", "--from", "2026-11-01", "--to",
                 "2026-11-30", "--reason", "Överklagande"]) == 0
    capsys.readouterr()
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "terminalen · gallrade: inget att gallra" in out
    assert "terminalen · lade en spärr mot gallring (Vivalla, 2026-11-01–2026-11-30)" in out
    assert "Överklagande" not in out  # the reason is free text: not in the log
