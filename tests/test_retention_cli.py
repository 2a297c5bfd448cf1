"""``lagesbild purge [--dry-run]`` and ``lagesbild hold``: the gallring from the shell."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.cli import retention as cli_retention
from bot.cli.main import main
from storage import audit
from storage.db import Database
from storage.models import AuditEvent, LegalHold, Report
from tests.test_retention import MOMENT, after, seed, seed_everything, snapshot


def run(work):
    """``await work(db)`` on the test database, from a plain (CLI-like) test."""
    async def go():
        db = Database(run.url)
        try:
            return await work(db)
        finally:
            await db.dispose()  # on SQLite the last close also checkpoints the WAL

    return asyncio.run(go())


@pytest.fixture
def env(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    run.url = database_url
    return database_url


@pytest.fixture
def at(monkeypatch):
    """Set the moment the CLI acts at."""
    def set_moment(moment):
        monkeypatch.setattr(cli_retention, "now", lambda: moment)
    set_moment(MOMENT)
    return set_moment


def count(model, *where) -> int:
    async def work(db):
        async with db.session() as session:
            query = select(func.count()).select_from(model).where(*where)
            return (await session.exec(query)).scalar_one()
    return run(work)


def audit_actions() -> list[tuple[str, str, dict]]:
    async def work(db):
        async with db.session() as session:
            rows = await session.exec(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.action, e.actor, e.details) for e in rows.scalars()]
    return run(work)


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" else None


def test_purge_dry_run_prints_every_kind_and_changes_nothing(env, at, capsys, config):
    run(seed_everything)
    before = run(snapshot)
    file = sqlite_file(env)
    raw = file.read_bytes() if file else None
    at(after(config.retention.report_days))
    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Provkörning – ingenting ändras" in out
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines()
             if line.startswith("  ")}
    assert "äldre än 90 dagar" in lines["Fritext i rapporter"]
    assert lines["Fritext i rapporter"].endswith("3 rapporter")
    assert lines["Rapporter (veckosummor sparas)"].endswith("4 rapporter")
    assert "äldre än 24 timmar" in lines["Hanterade uppdateringar"]
    assert lines["Avslutade medlemmar (namn och val)"].endswith("1 medlem")
    assert len(lines) == 10  # nine kinds and the total
    assert run(snapshot) == before  # row for row
    if file is not None:
        assert file.read_bytes() == raw  # and byte for byte


def test_purge_removes_what_is_due_and_logs_it_with_the_shell_as_actor(env, at, capsys,
                                                                       config):
    run(seed)
    at(after(config.retention.report_days))
    assert main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "Det här gallrades:" in out and "Varje steg står i loggen" in out
    assert count(Report) == 0
    logged = [(action, actor, details.get("count")) for action, actor, details
              in audit_actions() if action != "retention.run"]
    assert ("retention.reports", audit.SHELL, 4) in logged
    assert {actor for _, actor, _ in logged} == {audit.SHELL}
    [(_, _, totals)] = [row for row in audit_actions() if row[0] == "retention.run"]
    assert totals["counts"]["reports"] == 4 and totals["counts"]["report_text"] == 3
    assert main(["purge"]) == 0  # nothing left: a run that says so, and is logged
    out = capsys.readouterr().out
    assert " 0 rapporter" in out
    assert len([row for row in audit_actions() if row[0] == "retention.run"]) == 2


def test_hold_add_list_and_remove(env, at, capsys, config):
    ids = run(seed)
    assert main(["hold", "add", "--area", "vivalla", "--from", "2026-03-29", "--to",
                 "2026-03-29", "--reason", "Begäran om utlämnande, dnr KS 2026/123"]) == 0
    out = capsys.readouterr().out
    assert "Spärr 1 är lagd: Vivalla, 2026-03-29 – 2026-03-29 (1 rapport just nu)" in out
    assert "lagesbild hold remove 1" in out
    assert main(["hold", "add", "--from", "2027-01-01", "--to", "2027-01-31",
                 "--reason", "Överklagande"]) == 0
    assert "alla områden" in capsys.readouterr().out

    assert main(["hold", "list"]) == 0
    out = capsys.readouterr().out
    assert "Spärrar mot gallring (2 aktiva):" in out
    assert "Skäl: Begäran om utlämnande, dnr KS 2026/123" in out

    late = after(config.retention.report_days)
    at(late)
    assert main(["purge"]) == 0
    assert "Spärrar håller kvar 1 rapport" in capsys.readouterr().out
    assert count(Report) == 1 and count(Report, Report.id == ids["sunday"]) == 1

    assert main(["hold", "remove", "1"]) == 0
    assert "Spärr 1 är borttagen" in capsys.readouterr().out
    assert main(["hold", "remove", "1"]) == 2
    assert "spärr 1 är redan borttagen" in capsys.readouterr().err
    assert main(["hold", "remove", "99"]) == 2
    assert "spärr 99 finns inte" in capsys.readouterr().err
    assert main(["hold", "list"]) == 0
    out = capsys.readouterr().out
    assert "(1 aktiv)" in out and "Vivalla" not in out
    assert main(["hold", "list", "--all"]) == 0
    assert "borttagen" in capsys.readouterr().out

    at(late + timedelta(hours=1))
    assert main(["purge"]) == 0
    assert count(Report) == 0
    holds = [(action, actor, details["reports"]) for action, actor, details in audit_actions()
             if action.startswith("retention.hold")]
    assert holds == [("retention.hold_added", "shell", 1), ("retention.hold_added", "shell", 0),
                     ("retention.hold_removed", "shell", 1)]


@pytest.mark.parametrize(("args", "message"), [
    (["--area", "narnia", "--from", "2026-01-01", "--to", "2026-01-02", "--reason", "dnr 1"],
     "okänt område: narnia. Finns: vivalla"),
    (["--from", "2026-02-01", "--to", "2026-01-01", "--reason", "dnr 1"],
     "--from (2026-02-01) ligger efter --to (2026-01-01)"),
    (["--from", "2026-01-01", "--to", "2026-01-01", "--reason", "  "],
     "ange ett skäl med --reason"),
    (["--from", "2026-13-01", "--to", "2026-01-01", "--reason", "dnr 1"],
     "datumet 2026-13-01 (--from) finns inte i kalendern"),
    (["--from", "1 januari", "--to", "2026-01-01", "--reason", "dnr 1"],
     "Skriv ÅÅÅÅ-MM-DD"),
])
def test_a_wrong_hold_is_refused_in_swedish_and_nothing_is_stored(env, at, capsys, args,
                                                                   message):
    assert main(["hold", "add", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lagesbild hold add: ") and message in err
    assert count(LegalHold) == 0 and audit_actions() == []


def test_a_hold_number_must_be_a_number(env, capsys):
    assert main(["hold", "remove", "tre"]) == 2
    assert "ogiltigt nummer: 'tre'" in capsys.readouterr().err


def test_purge_without_a_migrated_database_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tom.db'}")
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    assert main(["purge", "--dry-run"]) == 1
    assert "lagesbild db upgrade" in capsys.readouterr().err
