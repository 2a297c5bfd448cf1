"""Exports of reports for a period: CSV, XLSX and GeoJSON (pure, no database, no Telegram).

What a coordinator may take out of the bot is exactly what they may see in it
(est.visibility): every förmedlad report plus their own organisation's egna ones.
Free text goes with those reports and with nothing else; withdrawn reports are left
out; the reporter's identity is never part of an export (the organisation is).

Formats, chosen so that the files open as they are where people use them:
- CSV: UTF-8 with a byte order mark and ``;`` as separator, decimal comma in lat/lon
  and times as ``YYYY-MM-DD HH:MM`` local time: what Swedish Excel opens correctly by
  double-click. Elsewhere: ``pandas.read_csv(f, sep=";", decimal=",", encoding="utf-8-sig")``.
- XLSX: one sheet "Rapporter", bold frozen header, real date cells (local time).
- GeoJSON (RFC 7946): a FeatureCollection of Points, coordinates [lon, lat] in WGS84,
  from the report's shared location or else its known place; times in ISO 8601 with
  offset. Reports without coordinates are left out (they are in CSV and XLSX).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from est.config import DeploymentConfig
from est.privacy import clean_typed_text
from est.report_draft import FORMEDLAD, PEOPLE_CHOICES
from est.visibility import visible_to_coordinator

HEADERS: tuple[str, ...] = (
    "referens", "mottagen", "inträffade", "område", "plats", "lat", "lon", "kategorier",
    "antal personer", "allvar", "delning", "organisation", "beskrivning",
)
FORMATS: tuple[str, ...] = ("csv", "xlsx", "geojson")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}
SHARING_LABELS = {FORMEDLAD: "förmedlad"}  # anything else is shown (and treated) as egen
CATEGORY_SEPARATOR = "; "
LOCAL_FORMAT = "%Y-%m-%d %H:%M"
# Longest period a chat export may cover; the command line has no limit.
MAX_CHAT_DAYS = 366
# The years a period may touch: every report is from this century, and far dates
# (0001-01-01, 9999-12-31) would overflow the day bounds.
YEARS = range(2000, 2100)
# Cells starting with these are run as formulas by spreadsheet programs (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_COLUMN_WIDTHS = (16, 17, 17, 16, 28, 10, 10, 36, 15, 7, 11, 28, 60)
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


# --- input and rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRecord:
    """One report as read for an export: no member id, no name (what is not read cannot leak)."""

    reference: str
    received_at: datetime  # UTC
    occurred_at: datetime  # UTC
    area_key: str
    place_key: str | None
    place_name: str | None
    lat: float | None
    lon: float | None
    category_keys: tuple[str, ...]
    people: str | None
    severity: int | None
    sharing: str
    org_key: str
    text: str | None
    withdrawn: bool = False


@dataclass(frozen=True)
class ExportRow:
    """One line of an export, already in the words people read (times in local time)."""

    reference: str
    received: datetime
    occurred: datetime
    area: str
    place: str
    lat: float | None
    lon: float | None
    categories: tuple[str, ...]
    people: str
    severity: int | None
    sharing: str
    organisation: str
    text: str

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None


def free_text_in_export(sharing: str, report_org_key: str, viewer_org_key: str | None) -> bool:
    """Free text only for the viewer's own organisation's egna reports and förmedlade ones."""
    return sharing == FORMEDLAD or (viewer_org_key is not None and report_org_key == viewer_org_key)


def _visible(record: ReportRecord, viewer_org_key: str | None) -> bool:
    if viewer_org_key is None:
        return record.sharing == FORMEDLAD
    return visible_to_coordinator(record.sharing, record.org_key, viewer_org_key)


def coordinates(record: ReportRecord, config: DeploymentConfig) -> tuple[float, float] | None:
    """(lat, lon): the location shared with the report, else its known place's, else None."""
    if record.lat is not None and record.lon is not None:
        return record.lat, record.lon
    place = config.place(record.area_key, record.place_key) if record.place_key else None
    if place is not None and place.lat is not None and place.lon is not None:
        return place.lat, place.lon
    return None


def export_rows(
    records: Iterable[ReportRecord], config: DeploymentConfig, viewer_org_key: str | None,
    skipped: list[str] | None = None,
) -> list[ExportRow]:
    """The rows a coordinator of ``viewer_org_key`` may take out, oldest first.

    ``viewer_org_key=None`` is the view of no organisation: förmedlade reports only.
    The visibility rule is applied here even if the query already did, so a wider
    query can never widen an export. Text is cleaned of control characters (a row
    stored before intake cleaned it must not break a file); a record that still cannot
    be turned into a row is left out and its reference added to ``skipped``, so one
    row never fails a whole export.
    """
    tz = config.tz
    order = {c.key: i for i, c in enumerate(config.categories)}

    def order_of(key: str) -> tuple[int, str]:
        return order.get(key, len(order)), key

    def row_of(r: ReportRecord) -> ExportRow:
        point = coordinates(r, config)
        text = r.text if free_text_in_export(r.sharing, r.org_key, viewer_org_key) else None
        return ExportRow(
            reference=cell_text(r.reference),
            received=r.received_at.astimezone(tz),
            occurred=r.occurred_at.astimezone(tz),
            area=cell_text(config.area_name(r.area_key)),
            place=cell_text(config.place_name(r.area_key, r.place_key, r.place_name) or ""),
            lat=point[0] if point else None,
            lon=point[1] if point else None,
            categories=tuple(cell_text(config.category_label(k))
                             for k in sorted(r.category_keys, key=order_of)),
            people=cell_text(PEOPLE_CHOICES.get(r.people, r.people or "") if r.people else ""),
            severity=r.severity,
            sharing=SHARING_LABELS.get(r.sharing, "egen"),
            organisation=cell_text(config.organisation_name(r.org_key)),
            text=cell_text(text or ""),
        )

    rows = []
    for r in records:
        if r.withdrawn or not _visible(r, viewer_org_key):
            continue
        try:
            rows.append(row_of(r))
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError):
            if skipped is not None:
                skipped.append(cell_text(str(r.reference)))
    rows.sort(key=lambda row: (row.occurred, row.reference))
    return rows


# --- periods ---------------------------------------------------------------------------------


class PeriodError(ValueError):
    """A period that cannot be used; the message is Swedish and shown as is."""


@dataclass(frozen=True)
class Period:
    """Whole local days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        for day in (self.start, self.end):
            if day.year not in YEARS:
                raise PeriodError(
                    f"Datumet {day.isoformat()} ligger utanför det som går att exportera "
                    f"(år {YEARS.start}–{YEARS.stop - 1})."
                )
        if self.end < self.start:
            raise PeriodError(
                f"Slutdatumet {self.end.isoformat()} är före startdatumet "
                f"{self.start.isoformat()}."
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """``[since, until)`` in UTC: local midnight of the first day to that after the last."""
        since = datetime.combine(self.start, time(0), tzinfo=tz)
        until = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=tz)
        return since.astimezone(UTC), until.astimezone(UTC)

    def filename(self, fmt: str) -> str:
        return f"lagesbild-{self.start:%Y%m%d}-{self.end:%Y%m%d}.{fmt}"

    def label(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


PRESETS: dict[str, str] = {
    "7d": "Senaste 7 dagarna",
    "30d": "Senaste 30 dagarna",
    "lw": "Förra veckan",
    "m": "Denna månad",
}


def preset_period(key: str, today: date) -> Period:
    """A named period ending today (local date); ``KeyError`` for an unknown key."""
    if key == "7d":
        return Period(today - timedelta(days=6), today)
    if key == "30d":
        return Period(today - timedelta(days=29), today)
    if key == "lw":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6))
    if key == "m":
        return Period(today.replace(day=1), today)
    raise KeyError(key)


def parse_date(text: str) -> date:
    """``YYYY-MM-DD``, with a Swedish explanation of what is wrong."""
    value = text.strip()
    if not _DATE_RE.fullmatch(value):
        raise PeriodError(f"Ogiltigt datum: {value[:30]!r}. Skriv ÅÅÅÅ-MM-DD, t.ex. 2026-11-01.")
    year, month, day = (int(part) for part in value.split("-"))
    try:
        return date(year, month, day)
    except ValueError:
        raise PeriodError(f"Datumet {value} finns inte i kalendern.") from None


def parse_period(text: str) -> Period:
    """Two dates, e.g. ``2026-11-01 2026-11-20`` (also with – or "till" between)."""
    words = re.sub(r"[–—]", " ", text).split()
    parts = [word for word in words if word.lower() not in ("till", "-")]
    if len(parts) != 2:
        raise PeriodError("Ange två datum: från och till, t.ex. 2026-11-01 2026-11-20.")
    return Period(parse_date(parts[0]), parse_date(parts[1]))


# --- formats ---------------------------------------------------------------------------------


def cell_text(text: str) -> str:
    """Text a file can hold: no control characters (newlines and tabs aside), no lone
    surrogates; what XLSX (XML) and UTF-8 refuse would fail the whole file."""
    return clean_typed_text(text)


def _safe(text: str) -> str:
    """Keep a spreadsheet from running typed text as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _decimal_comma(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.6f}".rstrip("0").rstrip(".").replace(".", ",")


def _local(moment: datetime) -> str:
    return moment.strftime(LOCAL_FORMAT)


def _values(row: ExportRow) -> list[object]:
    """The cells of a row; every text cleaned again, whoever built the row."""
    values = [
        row.reference, row.received, row.occurred, row.area, row.place, row.lat, row.lon,
        CATEGORY_SEPARATOR.join(row.categories), row.people, row.severity, row.sharing,
        row.organisation, row.text,
    ]
    return [cell_text(v) if isinstance(v, str) else v for v in values]


def to_csv(rows: Iterable[ExportRow]) -> bytes:
    """Semicolon-separated UTF-8 with BOM, CRLF line ends: opens in Swedish Excel as is."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in rows:
        cells = []
        for value in _values(row):
            if isinstance(value, datetime):
                cells.append(_local(value))
            elif isinstance(value, float):
                cells.append(_decimal_comma(value))
            elif value is None:
                cells.append("")
            elif isinstance(value, str):
                cells.append(_safe(value))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[ExportRow]) -> bytes:
    """One sheet, bold frozen header with a filter, sized columns, date cells in local time."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Rapporter"
    sheet.append(list(HEADERS))
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    for row in rows:
        values = [
            v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in _values(row)
        ]
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
        sheet.cell(sheet.max_row, len(HEADERS)).alignment = Alignment(wrap_text=True,
                                                                      vertical="top")
    for index, width in enumerate(_COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.properties.creator = "lägesbild"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_geojson(rows: Iterable[ExportRow]) -> bytes:
    """A FeatureCollection of the rows that have coordinates; the others are left out."""
    features = []
    for row in rows:
        if not row.has_coordinates:
            continue
        values = dict(zip(HEADERS, _values(row), strict=True))
        del values["lat"], values["lon"]
        properties = {
            key: value.isoformat(timespec="minutes") if isinstance(value, datetime) else value
            for key, value in values.items()
        }
        properties["kategorier"] = [cell_text(c) for c in row.categories]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
            "properties": properties,
        })
    collection = {"type": "FeatureCollection", "features": features}
    return (json.dumps(collection, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


WRITERS = {"csv": to_csv, "xlsx": to_xlsx, "geojson": to_geojson}


@dataclass(frozen=True)
class Export:
    """The files of one export and the counts a caption tells."""

    period: Period
    rows: int
    without_coordinates: int
    files: dict[str, bytes] = field(default_factory=dict)
    skipped: int = 0  # reports that could not be turned into a row (left out)

    @property
    def with_coordinates(self) -> int:
        return self.rows - self.without_coordinates


def build_export(
    records: Iterable[ReportRecord], config: DeploymentConfig, viewer_org_key: str | None,
    period: Period, formats: Iterable[str] = FORMATS,
) -> Export:
    """Rows and files in one go; slow for large periods, so callers run it off the loop."""
    skipped: list[str] = []
    rows = export_rows(records, config, viewer_org_key, skipped)
    files = {fmt: WRITERS[fmt](rows) for fmt in formats} if rows else {}
    return Export(period=period, rows=len(rows),
                  without_coordinates=sum(1 for r in rows if not r.has_coordinates),
                  files=files, skipped=len(skipped))
