"""Exports (est.export): who sees what, the three formats, periods."""

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from est import export as ex
from est.export import HEADERS, Period, PeriodError, ReportRecord

MOMENT = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)  # 20.30 in Örebro


def record(reference: str, *, org: str = "nattvandrarna", sharing: str = "formedlad",
           text: str | None = "Stenar vid porten", place_key: str | None = "viv_skola",
           place_name: str | None = None, lat=None, lon=None, withdrawn=False,
           categories=("skadegorelse",), area: str = "vivalla", occurred=MOMENT) -> ReportRecord:
    return ReportRecord(
        reference=reference, received_at=occurred, occurred_at=occurred, area_key=area,
        place_key=place_key, place_name=place_name, lat=lat, lon=lon,
        category_keys=tuple(categories), people="3-5", severity=3, sharing=sharing,
        org_key=org, text=text, withdrawn=withdrawn,
    )


RECORDS = [
    record("EST-2026-0001", text="Förmedlad text från nattvandrare"),
    record("EST-2026-0002", org="polisen", sharing="egen", text="Polisens egna hemlighet"),
    record("EST-2026-0003", org="kommunen", sharing="egen", text="Kommunens egen text"),
    record("EST-2026-0004", text="Tillbakatagen text", withdrawn=True),
    record("EST-2026-0005", org="securitas", place_key=None, place_name="Bakom ICA",
           text=None, categories=("stenkastning", "skadegorelse")),
    record("EST-2026-0006", org="obo", place_key=None, place_name="Egen position",
           lat=59.29123, lon=15.16789, text="=HYPERLINK(\"http://x\")"),
]


def rows_for(config, viewer="kommunen"):
    return ex.export_rows(RECORDS, config, viewer)


def test_rows_respect_visibility_and_free_text(config):
    rows = {r.reference: r for r in rows_for(config)}
    assert set(rows) == {"EST-2026-0001", "EST-2026-0003", "EST-2026-0005", "EST-2026-0006"}
    assert rows["EST-2026-0001"].text == "Förmedlad text från nattvandrare"
    assert rows["EST-2026-0003"].text == "Kommunens egen text"  # own organisation's egen
    assert rows["EST-2026-0003"].sharing == "egen"
    assert rows["EST-2026-0001"].sharing == "förmedlad"
    # Polisen sees its own egen report, not the kommun's.
    police = {r.reference for r in rows_for(config, "polisen")}
    assert "EST-2026-0002" in police and "EST-2026-0003" not in police
    # No organisation: förmedlade only.
    shared = {r.reference for r in ex.export_rows(RECORDS, config, None)}
    assert shared == {"EST-2026-0001", "EST-2026-0005", "EST-2026-0006"}


def test_free_text_rule():
    assert ex.free_text_in_export("formedlad", "polisen", "kommunen")
    assert ex.free_text_in_export("egen", "kommunen", "kommunen")
    assert not ex.free_text_in_export("egen", "polisen", "kommunen")
    assert not ex.free_text_in_export("egen", "polisen", None)


def test_rows_in_words_people_read(config):
    rows = {r.reference: r for r in rows_for(config)}
    first = rows["EST-2026-0001"]
    assert first.area == "Vivalla" and first.place == "Vivallaskolan"
    assert (first.lat, first.lon) == (59.2925, 15.1570)  # the known place
    assert first.organisation == "Nattvandrarna Örebro"
    assert first.people == "3–5" and first.severity == 3
    assert first.occurred.isoformat() == "2026-11-20T20:30:00+01:00"
    # Categories in the config's order, with their labels.
    assert rows["EST-2026-0005"].categories == ("Skadegörelse", "Stenkastning")
    assert rows["EST-2026-0005"].place == "Bakom ICA" and not rows["EST-2026-0005"].has_coordinates
    assert (rows["EST-2026-0006"].lat, rows["EST-2026-0006"].lon) == (59.29123, 15.16789)


def test_csv_has_bom_semicolons_and_parses_back(config):
    data = ex.to_csv(rows_for(config))
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert tuple(parsed[0]) == HEADERS
    by_ref = {line[0]: dict(zip(HEADERS, line, strict=True)) for line in parsed[1:]}
    assert set(by_ref) == {"EST-2026-0001", "EST-2026-0003", "EST-2026-0005", "EST-2026-0006"}
    first = by_ref["EST-2026-0001"]
    assert first["inträffade"] == "2026-11-20 20:30"
    assert first["lat"] == "59,2925" and first["lon"] == "15,157"
    assert first["beskrivning"] == "Förmedlad text från nattvandrare"
    assert by_ref["EST-2026-0005"]["kategorier"] == "Skadegörelse; Stenkastning"
    assert by_ref["EST-2026-0005"]["lat"] == ""
    # Typed text is never a formula in a spreadsheet.
    assert by_ref["EST-2026-0006"]["beskrivning"] == "'=HYPERLINK(\"http://x\")"
    assert b"Polisens egna hemlighet" not in data and b"Tillbakatagen" not in data


def test_xlsx_opens_with_bold_frozen_header(config):
    data = ex.to_xlsx(rows_for(config))
    sheet = load_workbook(io.BytesIO(data)).active
    header = [cell.value for cell in sheet[1]]
    assert tuple(header) == HEADERS
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["M"].width >= 40
    values = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert len(values) == 4
    first = dict(zip(HEADERS, values[0], strict=True))
    assert first["inträffade"] == datetime(2026, 11, 20, 20, 30)  # a real date, local time
    assert first["lat"] == 59.2925
    formula = next(v for v in values if v[0] == "EST-2026-0006")
    assert sheet.cell(1 + values.index(formula) + 1, 13).data_type == "s"


def test_geojson_points_lon_lat_and_skips_rows_without_coordinates(config):
    collection = json.loads(ex.to_geojson(rows_for(config)).decode("utf-8"))
    assert collection["type"] == "FeatureCollection"
    features = {f["properties"]["referens"]: f for f in collection["features"]}
    assert set(features) == {"EST-2026-0001", "EST-2026-0003", "EST-2026-0006"}
    point = features["EST-2026-0001"]["geometry"]
    assert point == {"type": "Point", "coordinates": [15.157, 59.2925]}
    props = features["EST-2026-0001"]["properties"]
    assert props["inträffade"] == "2026-11-20T20:30+01:00"
    assert props["kategorier"] == ["Skadegörelse"] and "lat" not in props
    assert features["EST-2026-0006"]["geometry"]["coordinates"] == [15.16789, 59.29123]


def test_no_reporter_identity_in_any_format(config):
    rows = rows_for(config)
    for data in (ex.to_csv(rows), ex.to_geojson(rows)):
        text = data.decode("utf-8-sig").lower()
        assert "member" not in text and "medlem" not in text and "rapportör" not in text
    fields = set(ex.ExportRow.__dataclass_fields__) | set(ReportRecord.__dataclass_fields__)
    assert not {f for f in fields if "member" in f or "name" == f or "user" in f}


def test_build_export_counts_and_empty(config):
    period = Period(date(2026, 11, 1), date(2026, 11, 20))
    result = ex.build_export(RECORDS, config, "kommunen", period)
    assert (result.rows, result.without_coordinates, result.with_coordinates) == (4, 1, 3)
    assert set(result.files) == {"csv", "xlsx", "geojson"}
    empty = ex.build_export([RECORDS[1]], config, "kommunen", period)
    assert empty.rows == 0 and empty.files == {}


def test_periods_and_bounds(config):
    today = date(2026, 11, 20)  # a Friday
    assert ex.preset_period("7d", today) == Period(date(2026, 11, 14), today)
    assert ex.preset_period("30d", today) == Period(date(2026, 10, 22), today)
    assert ex.preset_period("lw", today) == Period(date(2026, 11, 9), date(2026, 11, 15))
    assert ex.preset_period("m", today) == Period(date(2026, 11, 1), today)
    with pytest.raises(KeyError):
        ex.preset_period("år", today)
    # Local midnights, across the DST change of 25 October.
    since, until = Period(date(2026, 10, 24), date(2026, 10, 25)).bounds(config.tz)
    assert since == datetime(2026, 10, 23, 22, 0, tzinfo=UTC)
    assert until == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    period = Period(date(2026, 11, 1), date(2026, 11, 20))
    assert period.filename("xlsx") == "lagesbild-20261101-20261120.xlsx"
    assert period.days == 20


def test_parse_period_in_swedish():
    assert ex.parse_period("2026-11-01 2026-11-20") == Period(date(2026, 11, 1),
                                                              date(2026, 11, 20))
    assert ex.parse_period("2026-11-01 – 2026-11-20").end == date(2026, 11, 20)
    assert ex.parse_period("2026-11-01 till 2026-11-20").start == date(2026, 11, 1)
    for text, message in [("2026-11-01", "två datum"), ("igår idag", "Ogiltigt datum"),
                          ("2026-02-30 2026-03-01", "finns inte"),
                          ("2026-11-20 2026-11-01", "före startdatumet")]:
        with pytest.raises(PeriodError, match=message):
            ex.parse_period(text)
