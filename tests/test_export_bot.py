"""/export through the fake Telegram API: period buttons, three documents, visibility."""

import csv
import io
import json
from datetime import timedelta

from openpyxl import load_workbook
from sqlmodel import select

from est.report_draft import ReportDraft as DraftData
from storage.export import export_records
from storage.members import member_by_user
from storage.models import AuditEvent, Dialog, Report
from storage.reports import open_draft, submit_draft
from tests.conftest import make_admin, registered

KARIN, POLIS, ANNA, OLLE, KIM = 7101, 7102, 7201, 7202, 7203
GROUP, ADMIN = -4701, 7000
# Reporter names that must never appear in an export.
NAMES = {ANNA: "Zlatana", OLLE: "Bosseman", KIM: "Kimberlyn"}
FORMATS = ("csv", "xlsx", "geojson")


async def stored_report(bot, user_id: int, *, days_ago: float = 0, withdrawn=False,
                        **fields) -> str:
    """A submitted report (as the dialog leaves it), ``days_ago`` before the clock."""
    moment = bot.clock() - timedelta(days=days_ago)
    async with bot.services.db.session() as session:
        member = await member_by_user(session, user_id)
        data = DraftData(occurred_at=moment.isoformat(), people="3-5", severity=3, **fields)
        draft = await open_draft(session, member_id=member.id, chat_id=user_id, step="summary",
                                 data=data.to_json(), now=moment)
        report = await submit_draft(session, draft, member, now=moment, year=2026)
        if withdrawn:
            report.withdrawn_at = bot.clock()
            session.add(report)
        await session.commit()
        return report.reference


async def world(bot):
    """Reporters from three organisations and reports of every kind of visibility."""
    for user_id, org in ((ANNA, "nattvandrarna"), (OLLE, "polisen"), (KIM, "kommunen")):
        await registered(bot, user_id, NAMES[user_id], org_key=org)
    refs = {
        "shared": await stored_report(bot, ANNA, area="vivalla", place_key="viv_skola",
                                      categories=["skadegorelse", "stenkastning"],
                                      text="Stenar vid porten"),
        "police_own": await stored_report(bot, OLLE, area="vivalla", place_key="viv_centrum",
                                          categories=["samling"], sharing="egen",
                                          text="Polisens hemliga uppgift"),
        "kommun_own": await stored_report(bot, KIM, area="centrum", place_name="Bakom garaget",
                                          categories=["otrygg_miljo"], sharing="egen",
                                          text="Kommunens egen anteckning"),
        "withdrawn": await stored_report(bot, ANNA, area="vivalla", place_key="viv_fritid",
                                         categories=["falsklarm"], withdrawn=True,
                                         text="Tillbakatagen text"),
        "older": await stored_report(bot, ANNA, days_ago=10, area="oxhagen",
                                     place_key="oxh_centrum", categories=["bilbrand"],
                                     lat=59.28311, lon=15.24702, text="Bilbrand vid torget"),
    }
    return refs


async def export_dialog(bot, user_id: int) -> Dialog:
    """The newest /export dialog of this person (for forged button data)."""
    async with bot.services.db.session() as session:
        member = await member_by_user(session, user_id)
        return (await session.exec(
            select(Dialog).where(Dialog.member_id == member.id, Dialog.kind == "export")
            .order_by(Dialog.id.desc()))).first()


def documents(fake, chat_id: int) -> dict[str, tuple[str, bytes, str]]:
    """Documents the bot sent to the chat, by extension: (file name, bytes, caption)."""
    found = {}
    for message in fake.bot_messages(chat_id):
        document = message.get("document")
        if document:
            name = document["file_name"]
            found[name.rsplit(".", 1)[1]] = (name, fake.files[document["file_id"]].content,
                                             message.get("caption", ""))
    return found


def csv_rows(data: bytes) -> dict[str, dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";")
    return {row["referens"]: row for row in reader}


def xlsx_text(data: bytes) -> str:
    sheet = load_workbook(io.BytesIO(data)).active
    return "\n".join(str(cell.value) for row in sheet.iter_rows() for cell in row)


def assert_no_identity(files, user_ids=NAMES):
    for _name, data, _caption in files.values():
        text = xlsx_text(data) if data.startswith(b"PK") else data.decode("utf-8-sig")
        for user_id, name in user_ids.items():
            assert name not in text and str(user_id) not in text


async def test_export_buttons_send_three_documents_the_coordinator_may_see(bot, fake):
    refs = await world(bot)
    karin = await registered(bot, KARIN, "Karin", role="coordinator", org_key="kommunen")
    choice = await karin.send("/export")
    assert "Exportera rapporter" in choice["text"]
    assert karin.buttons() == ["Senaste 7 dagarna", "Senaste 30 dagarna", "Förra veckan",
                               "Denna månad", "✖ Avbryt"]
    await karin.click("Senaste 7 dagarna")

    files = documents(fake, KARIN)
    assert {name for name, _, _ in files.values()} == {
        f"lagesbild-20261114-20261120.{fmt}" for fmt in FORMATS}
    sent = [name for name, _ in fake.calls if name == "sendDocument"]
    assert len(sent) == 3

    rows = csv_rows(files["csv"][1])
    assert set(rows) == {refs["shared"], refs["kommun_own"]}
    assert rows[refs["shared"]]["beskrivning"] == "Stenar vid porten"
    assert rows[refs["shared"]]["kategorier"] == "Skadegörelse; Stenkastning"
    assert rows[refs["shared"]]["organisation"] == "Nattvandrarna Örebro"
    assert rows[refs["shared"]]["inträffade"] == "2026-11-20 21:00"
    assert rows[refs["kommun_own"]]["beskrivning"] == "Kommunens egen anteckning"
    assert rows[refs["kommun_own"]]["delning"] == "egen"
    assert rows[refs["kommun_own"]]["lat"] == ""
    everything = b"".join(data for _, data, _ in files.values())
    assert b"Polisens hemliga" not in everything and b"Tillbakatagen" not in everything
    assert "Polisens hemliga" not in xlsx_text(files["xlsx"][1])
    assert_no_identity(files)

    sheet = load_workbook(io.BytesIO(files["xlsx"][1])).active
    assert sheet["A1"].value == "referens" and sheet["A1"].font.bold
    assert sheet.max_row == 3

    collection = json.loads(files["geojson"][1])
    [feature] = collection["features"]  # the kommun's egen report has no coordinates
    assert feature["geometry"] == {"type": "Point", "coordinates": [15.157, 59.2925]}
    assert feature["properties"]["referens"] == refs["shared"]

    assert "2 rapporter" in files["csv"][2] and "Semikolonseparerad" in files["csv"][2]
    assert "1 rapport med koordinater (1 utan plats utelämnade)" in files["geojson"][2]
    # The choice message became the progress message, then the summary above the files.
    summary = fake.bot_messages(KARIN)[-4]
    assert summary["message_id"] == choice["message_id"]
    assert "✅ Exporten för 2026-11-14 – 2026-11-20: 2 rapporter i tre filer." in summary["text"]
    assert "1 rapport saknar koordinater" in summary["text"]
    assert "reply_markup" not in summary
    edits = [p["text"] for name, p in fake.calls if name == "editMessageText"]
    assert edits[0].startswith("⏳ Jag tar fram exporten för 2026-11-14 – 2026-11-20")
    first_edit = next(i for i, (n, _) in enumerate(fake.calls) if n == "editMessageText")
    first_document = next(i for i, (n, _) in enumerate(fake.calls) if n == "sendDocument")
    assert first_edit < first_document
    async with bot.services.db.session() as session:  # who exported what is explainable
        [logged] = (await session.exec(select(AuditEvent)
                                       .where(AuditEvent.action == "export"))).all()
    assert logged.details == {"period": "2026-11-14 – 2026-11-20", "reports": 2,
                              "formats": ["csv", "xlsx", "geojson"], "view": "kommunen"}


async def test_typed_period_and_another_organisations_view(bot, fake):
    refs = await world(bot)
    polis = await registered(bot, POLIS, "Per", role="coordinator", org_key="polisen")
    await polis.send("/export 2026-11-01 2026-11-20")
    texts = polis.texts()
    assert any(t.startswith("✅ Exporten för 2026-11-01 – 2026-11-20: 3 rapporter") for t in texts)
    files = documents(fake, POLIS)
    assert {name for name, _, _ in files.values()} == {
        f"lagesbild-20261101-20261120.{fmt}" for fmt in FORMATS}
    rows = csv_rows(files["csv"][1])
    assert set(rows) == {refs["shared"], refs["police_own"], refs["older"]}
    assert rows[refs["police_own"]]["beskrivning"] == "Polisens hemliga uppgift"
    assert b"Kommunens egen" not in b"".join(data for _, data, _ in files.values())
    # The shared location wins over the place.
    assert rows[refs["older"]]["lat"] == "59,28311"
    features = json.loads(files["geojson"][1])["features"]
    assert len(features) == 3
    coordinates = {f["properties"]["referens"]: f["geometry"]["coordinates"] for f in features}
    assert coordinates[refs["older"]] == [15.24702, 59.28311]
    assert_no_identity(files)


async def test_empty_period_bad_dates_and_cancel_send_no_files(bot, fake):
    await world(bot)
    karin = await registered(bot, KARIN, "Karin", role="coordinator", org_key="kommunen")
    reply = await karin.send("/export 2026-01-01 2026-01-31")
    assert "Inga rapporter att exportera för 2026-01-01 – 2026-01-31" in reply["text"]
    reply = await karin.send("/export 2026-02-30 2026-03-02")
    assert "Datumet 2026-02-30 finns inte" in reply["text"]
    reply = await karin.send("/export 2026-11-20 2026-11-01")
    assert "före startdatumet" in reply["text"]
    reply = await karin.send("/export igår")
    assert "Ange två datum" in reply["text"]
    reply = await karin.send("/export 2025-01-01 2026-11-20")
    assert "högst 366 dagar" in reply["text"]
    await karin.send("/export")
    reply = await karin.click("✖ Avbryt")
    assert reply["text"] == "Ingen export gjordes."
    dialog = await export_dialog(bot, KARIN)
    fake.click_data(KARIN, fake.last_bot_message(KARIN), f"d:{dialog.id}:p:zz")
    await bot.settle()
    assert not [name for name, _ in fake.calls if name == "sendDocument"]


async def test_reporters_are_refused_even_with_forged_buttons(bot, fake):
    await world(bot)
    anna = bot.person(ANNA, NAMES[ANNA])
    reply = await anna.send("/export")
    assert "till för samordnare" in reply["text"]
    reply = await anna.send("/export 2026-11-01 2026-11-20")
    assert "till för samordnare" in reply["text"]
    karin = await registered(bot, KARIN, "Karin", role="coordinator", org_key="kommunen")
    choice = await karin.send("/export")
    dialog = await export_dialog(bot, KARIN)
    # A modified client sends the buttons of a coordinator's dialog: not hers.
    query = fake.click_data(ANNA, reply, f"d:{dialog.id}:p:7d")
    await bot.settle()
    assert "någon annans" in fake.callback_answer(query["id"])["text"]
    # A coordinator who lost the role since: the buttons of her own dialog refuse her.
    async with bot.services.db.session() as session:
        member = await member_by_user(session, KARIN)
        member.role = "reporter"
        session.add(member)
        await session.commit()
    fake.click_data(KARIN, choice, f"d:{dialog.id}:p:7d")
    await bot.settle()
    answers = [p for name, p in fake.calls if name == "answerCallbackQuery"]
    assert "till för samordnare" in answers[-1]["text"]
    assert not [name for name, _ in fake.calls if name == "sendDocument"]


async def test_export_in_a_group_points_to_the_private_chat(bot, fake):
    await world(bot)
    await make_admin(bot, ADMIN)
    fake.user(ADMIN, "Admin")
    fake.create_group(GROUP, "Samordnare EST")
    fake.add_bot_to_group(GROUP, ADMIN)
    await bot.settle()
    fake.send_text(ADMIN, "/registrera_grupp", chat_id=GROUP)
    await bot.settle()
    fake.send_text(ADMIN, "/export 2026-11-01 2026-11-20", chat_id=GROUP)
    await bot.settle()
    assert "privat chatt" in fake.last_bot_message(GROUP)["text"]
    assert not [name for name, _ in fake.calls if name == "sendDocument"]


async def test_admin_gets_an_export_and_withdrawn_reports_stay_out(bot, fake):
    refs = await world(bot)
    await make_admin(bot, ADMIN)
    admin = bot.person(ADMIN, "Admin")
    await admin.send("/export")
    await admin.click("Denna månad")
    rows = csv_rows(documents(fake, ADMIN)["csv"][1])
    assert set(rows) == {refs["shared"], refs["kommun_own"], refs["older"]}
    async with bot.services.db.session() as session:
        withdrawn = (await session.exec(
            select(Report).where(Report.reference == refs["withdrawn"]))).one()
        assert withdrawn.withdrawn_at is not None  # it exists, it is just not exported


async def test_the_query_itself_never_reads_other_organisations_egna(bot):
    refs = await world(bot)
    since, until = bot.clock() - timedelta(days=30), bot.clock() + timedelta(minutes=1)
    async with bot.services.db.session() as session:
        kommun = await export_records(session, since=since, until=until,
                                      viewer_org_key="kommunen")
        shared = await export_records(session, since=since, until=until, viewer_org_key=None)
    assert [r.reference for r in kommun] == [refs["older"], refs["shared"], refs["kommun_own"]]
    assert [r.reference for r in shared] == [refs["older"], refs["shared"]]
    assert kommun[1].category_keys == ("skadegorelse", "stenkastning")
