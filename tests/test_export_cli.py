"""``lagesbild export``: files from the command line, with the same rules as /export."""

import asyncio
import csv
import io
import json
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from bot.cli.main import main
from est.report_draft import ReportDraft as DraftData
from storage.db import Database
from storage.members import add_member
from storage.reports import open_draft, submit_draft

MOMENT = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
REPORTERS = {8101: ("Zlatana", "nattvandrarna"), 8102: ("Bosseman", "polisen"),
             8103: ("Kimberlyn", "kommunen")}


def seed(database_url: str) -> dict[str, str]:
    """Three reports: förmedlad, polisen's egen, the kommun's egen without coordinates."""
    specs = {
        "shared": (8101, dict(area="vivalla", place_key="viv_skola", categories=["skadegorelse"],
                              text="Stenar vid porten")),
        "police_own": (8102, dict(area="vivalla", place_key="viv_centrum",
                                  categories=["samling"], sharing="egen",
                                  text="Polisens hemliga uppgift")),
        "kommun_own": (8103, dict(area="centrum", place_name="Bakom garaget",
                                  categories=["otrygg_miljo"], sharing="egen",
                                  text="Kommunens egen anteckning")),
    }

    async def work() -> dict[str, str]:
        db = Database(database_url)
        refs = {}
        try:
            async with db.session() as session:
                members = {}
                for user_id, (name, org) in REPORTERS.items():
                    members[user_id] = await add_member(
                        session, telegram_user_id=user_id, first_name=name, role="reporter",
                        org_key=org, now=MOMENT)
                for key, (user_id, fields) in specs.items():
                    data = DraftData(occurred_at=MOMENT.isoformat(), people="1-2", severity=2,
                                     **fields)
                    draft = await open_draft(session, member_id=members[user_id].id,
                                             chat_id=user_id, step="summary",
                                             data=data.to_json(), now=MOMENT)
                    report = await submit_draft(session, draft, members[user_id], now=MOMENT,
                                                year=2026)
                    refs[key] = report.reference
                await session.commit()
        finally:
            await db.dispose()
        return refs

    return asyncio.run(work())


@pytest.fixture
def env(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return database_url


def assert_no_identity(text: str) -> None:
    for user_id, (name, _org) in REPORTERS.items():
        assert name not in text and str(user_id) not in text


def test_csv_to_stdout_in_the_kommun_view_by_default(env, capsysbinary):
    refs = seed(env)
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30",
                 "--format", "csv"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out.startswith(b"\xef\xbb\xbf")
    text = captured.out.decode("utf-8-sig")
    rows = {r["referens"]: r for r in csv.DictReader(io.StringIO(text, newline=""),
                                                     delimiter=";")}
    assert set(rows) == {refs["shared"], refs["kommun_own"]}
    assert rows[refs["kommun_own"]]["beskrivning"] == "Kommunens egen anteckning"
    assert "Polisens hemliga" not in text
    assert_no_identity(text)
    err = captured.err.decode()
    assert "Exporterade 2 rapporter för 2026-11-01 – 2026-11-30" in err
    assert "egna från Örebro kommun" in err


def test_xlsx_goes_to_a_file_named_after_the_period(env, tmp_path, capsys):
    refs = seed(env)
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx",
                 "--org", "polisen"]) == 0
    assert capsys.readouterr().out == ""
    path = tmp_path / "lagesbild-20261101-20261130.xlsx"
    sheet = load_workbook(path).active
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert {row[0] for row in values} == {refs["shared"], refs["police_own"]}
    assert_no_identity("\n".join(str(v) for row in values for v in row))


def test_geojson_to_a_chosen_file_only_shared(env, tmp_path, capsys):
    refs = seed(env)
    out = tmp_path / "karta.geojson"
    assert main(["export", "--from", "2026-11-20", "--to", "2026-11-20", "--format", "geojson",
                 "--shared-only", "--out", str(out)]) == 0
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    assert feature["properties"]["referens"] == refs["shared"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [15.157, 59.2925]}
    assert "bara förmedlade" in capsys.readouterr().err


def test_kommun_view_geojson_counts_reports_left_out(env, tmp_path, capsys):
    seed(env)
    out = tmp_path / "karta.geojson"
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "geojson",
                 "--out", str(out)]) == 0
    assert len(json.loads(out.read_bytes())["features"]) == 1
    assert "2 rapporter (1 utan koordinater utelämnade)" in capsys.readouterr().err


def test_bad_dates_and_unknown_organisation_exit_2_in_swedish(env, capsys):
    for dates, message in [(["2026-11-31", "2026-12-01"], "Datumet 2026-11-31 finns inte"),
                           (["1 nov", "2026-12-01"], "Ogiltigt datum"),
                           (["2026-12-01", "2026-11-01"], "före startdatumet")]:
        code = main(["export", "--from", dates[0], "--to", dates[1], "--format", "csv"])
        assert code == 2
        captured = capsys.readouterr()
        assert message in captured.err and captured.out == ""
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--org", "nope"]) == 2
    assert "okänd organisation: nope" in capsys.readouterr().err


def test_empty_period_writes_headers_only(env, capsysbinary):
    seed(env)
    assert main(["export", "--from", "2025-01-01", "--to", "2025-01-31"]) == 0
    captured = capsysbinary.readouterr()
    lines = captured.out.decode("utf-8-sig").splitlines()
    assert lines == ["referens;mottagen;inträffade;område;plats;lat;lon;kategorier;"
                     "antal personer;allvar;delning;organisation;beskrivning"]
    assert "Exporterade 0 rapporter" in captured.err.decode()
