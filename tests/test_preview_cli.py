"""``lagesbild preview``: prints what would be sent and writes the PNGs, sending nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import func, select

from bot.cli.main import main
from storage.db import Database
from storage.models import Broadcast, Delivery
from tests.test_digest import add_planning, seed_example


@pytest.fixture
def env(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return database_url


def _seed(database_url: str, config) -> None:
    async def work() -> None:
        db = Database(database_url)
        try:
            await seed_example(db, config)
            await add_planning(db)
        finally:
            await db.dispose()

    asyncio.run(work())


def _count(database_url: str, table) -> int:
    async def work() -> int:
        db = Database(database_url)
        try:
            async with db.session() as session:
                return (await session.exec(select(func.count()).select_from(table))).one()
        finally:
            await db.dispose()

    return asyncio.run(work())


def test_preview_digest_prints_the_agenda_and_writes_the_pngs(env, config, tmp_path, capsys):
    _seed(env, config)
    out = tmp_path / "bilder"
    assert main(["preview", "digest", "--date", "2026-11-26", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Förhandsvisning av digest för 2026-11-26 08:00 (Europe/Stockholm)" in printed
    assert "inget skickas" in printed
    for number, heading in [(1, "Fakta/händelser under senaste veckan"),
                            (5, "Behov av nya beslut eller förstärkning"),
                            (7, "Påverkas andra verksamheter som behöver informeras")]:
        assert f"\n{number}. {heading}\n" in printed
    assert "<b>" not in printed  # plain text for the terminal
    assert "Förstärkning med fältare i Vivalla i helgen" in printed
    pngs = sorted(p.name for p in out.iterdir())
    assert pngs == ["hotspots-2026-11-26.png", "lagesbild-veckor-2026-11-26.png"]
    for name in pngs:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
        assert str(out / name) in printed
    # Nothing was sent or claimed.
    assert _count(env, Broadcast) == 0 and _count(env, Delivery) == 0


def test_preview_briefing_and_lagesbild(env, config, tmp_path, capsys):
    _seed(env, config)
    assert main(["preview", "briefing", "--date", "2026-11-27", "--out", str(tmp_path),
                 "--html"]) == 0
    printed = capsys.readouterr().out
    assert "2026-11-27 19:00" in printed
    assert "🌆 <b>Utsättning – fredag 27 november</b>" in printed
    assert list(tmp_path.iterdir()) == []  # the briefing has no pictures

    assert main(["preview", "lagesbild", "--date", "2026-11-26", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Samlad lägesbild – Örebro kommun" in printed
    assert "hoppas över" not in printed


def test_preview_of_a_quiet_daily_says_it_would_be_skipped(env, capsys, tmp_path):
    assert main(["preview", "lagesbild", "--date", "2026-11-26", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Utskicket hoppas över: inga nya förmedlade rapporter" in printed


def test_preview_rejects_a_bad_date(env, capsys):
    with pytest.raises(SystemExit):
        main(["preview", "digest", "--date", "26/11"])
    assert "ogiltigt datum" in capsys.readouterr().err
