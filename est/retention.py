"""Gallring (retention): what is due when, what a legal hold keeps, what a purge leaves.

The kommun's gallringsbeslut is the config's ``[retention]`` (est.config.Retention): one
period per kind of data. This module turns it into cutoffs, a legal hold into the UTC
window of the reports it keeps, and the reports about to be deleted into the weekly
aggregate cells that keep the area × week picture. No SQL, no Telegram: storage.retention
runs the queries, bot.cli.retention and bot.outbound.purge talk to people.

Order of a report's life: its free text goes after ``report_text_days``, the link to the
reporter after ``reporter_link_days`` (the organisation stays), the report itself after
``report_days`` (its categories with it; its counts stay in ``weekly_aggregates``). The
age is counted from when the report came in (``received_at``), the date the kommun
registers an allmän handling by. A hold covers the reports that happened (local date of
``occurred_at``) within its dates, in its area or in all areas; they keep everything
until the hold is removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from est.analysis import ReportFact, rules_for
from est.config import DeploymentConfig, Retention

# The kinds of data the gallring handles, in the order a run handles them.
REPORT_TEXT = "report_text"
REPORTER_LINK = "reporter_link"
REPORTS = "reports"
DIALOGS = "dialogs"
DIALOG_DATA = "dialog_data"
DELIVERIES = "deliveries"
INBOX = "inbox"
ENDED_MEMBERS = "ended_members"
AUDIT = "audit"

# An ended member's name after the gallring (the same words /avsluta leaves at once).
ENDED_MEMBER_NAME = "Avslutad medlem"
# The step a submitted dialog shows once its data has been emptied.
EMPTIED_STEP = "gallrad"
# The category key of the aggregate cell that counts every report once, whatever its
# categories (config keys are [a-z0-9_], so it cannot clash with a real category).
ALL_CATEGORIES = "*"
# A report whose organisation is no longer in the config is counted under this kind.
UNKNOWN_ORG_KIND = "annan"
HOLD_REASON_MAX = 300

_MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
           "september", "oktober", "november", "december")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class PurgeKind:
    """One kind of data: its [retention] setting and how it is named in Swedish."""

    key: str
    setting: str  # the Retention field that sets its period
    label: str  # for the CLI table and the admins' summary
    unit: str  # what is counted, plural ("rapporter", "rader")
    unit_one: str  # and singular ("rapport", "rad")
    hours: bool = False  # the setting counts hours, not days

    def amount(self, count: int) -> str:
        return f"{count} {self.unit_one if count == 1 else self.unit}"

    def period(self, retention: Retention) -> timedelta:
        value = getattr(retention, self.setting)
        return timedelta(hours=value) if self.hours else timedelta(days=value)

    def period_text(self, retention: Retention) -> str:
        value = getattr(retention, self.setting)
        if self.hours:
            return f"{value} {'timme' if value == 1 else 'timmar'}"
        return f"{value} {'dag' if value == 1 else 'dagar'}"


PURGE_KINDS: tuple[PurgeKind, ...] = (
    PurgeKind(REPORT_TEXT, "report_text_days", "Fritext i rapporter", "rapporter", "rapport"),
    PurgeKind(REPORTER_LINK, "reporter_link_days", "Koppling till rapportören", "rapporter",
              "rapport"),
    PurgeKind(REPORTS, "report_days", "Rapporter (veckosummor sparas)", "rapporter",
              "rapport"),
    PurgeKind(DIALOGS, "abandoned_dialog_days", "Övergivna och avslutade dialoger",
              "dialoger", "dialog"),
    PurgeKind(DIALOG_DATA, "abandoned_dialog_days", "Innehåll i skickade rapportdialoger",
              "dialoger", "dialog"),
    PurgeKind(DELIVERIES, "delivery_days", "Utskick per mottagare", "rader", "rad"),
    PurgeKind(INBOX, "inbox_hours", "Hanterade uppdateringar", "rader", "rad", hours=True),
    PurgeKind(ENDED_MEMBERS, "ended_member_days", "Avslutade medlemmar (namn och val)",
              "medlemmar", "medlem"),
    PurgeKind(AUDIT, "audit_days", "Loggrader", "rader", "rad"),
)
KIND_KEYS = tuple(kind.key for kind in PURGE_KINDS)


def purge_kind(key: str) -> PurgeKind:
    return next(kind for kind in PURGE_KINDS if kind.key == key)


def cutoffs(retention: Retention, now: datetime) -> dict[str, datetime]:
    """Per kind: data older than this moment (UTC) is due."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return {kind.key: now - kind.period(retention) for kind in PURGE_KINDS}


# ---------------------------------------------------------------- legal holds

class HoldProblem(ValueError):
    """Why a hold cannot be added, in Swedish, ready to be shown as is."""


@dataclass(frozen=True)
class HoldWindow:
    """The reports a hold keeps: ``since <= occurred_at < until`` (UTC), in one area or all."""

    area_key: str | None
    since: datetime
    until: datetime
    hold_id: int | None = None

    def covers(self, area_key: str, occurred_at: datetime) -> bool:
        return (self.area_key is None or self.area_key == area_key) \
            and self.since <= occurred_at < self.until


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of ``day`` in the deployment's zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def hold_window(area_key: str | None, starts_on: date, ends_on: date, tz: ZoneInfo,
                hold_id: int | None = None) -> HoldWindow:
    """Both days count: from ``starts_on`` 00:00 to the end of ``ends_on``, local time."""
    return HoldWindow(area_key, local_midnight(starts_on, tz),
                      local_midnight(ends_on + timedelta(days=1), tz), hold_id)


def parse_day(text: str, option: str) -> date:
    """``YYYY-MM-DD`` from the command line, with a Swedish explanation of what is wrong."""
    value = text.strip()
    if not _DATE_RE.fullmatch(value):
        raise HoldProblem(f"ogiltigt datum för {option}: {value[:30]!r}. "
                          "Skriv ÅÅÅÅ-MM-DD, t.ex. 2026-11-01.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HoldProblem(f"datumet {value} ({option}) finns inte i kalendern.") from None


@dataclass(frozen=True)
class HoldRequest:
    area_key: str | None
    starts_on: date
    ends_on: date
    reason: str


def check_hold(config: DeploymentConfig, *, area_key: str | None, starts_on: date,
               ends_on: date, reason: str | None) -> HoldRequest:
    """A valid hold, or HoldProblem naming every problem (one per line)."""
    problems = []
    area = (area_key or "").strip() or None
    if area is not None and config.area(area) is None:
        problems.append(f"okänt område: {area}. Finns: "
                        f"{', '.join(a.key for a in config.areas)} "
                        "(utan --area gäller spärren alla områden).")
    if starts_on > ends_on:
        problems.append(f"--from ({starts_on.isoformat()}) ligger efter --to "
                        f"({ends_on.isoformat()}); båda dagarna räknas, så en enda dag "
                        "skrivs med samma datum två gånger.")
    text = " ".join((reason or "").split())
    if not text:
        problems.append("ange ett skäl med --reason, t.ex. diarienummer eller vem som "
                        "begärde spärren; skälet får inte vara tomt.")
    elif len(text) > HOLD_REASON_MAX:
        problems.append(f"skälet får vara högst {HOLD_REASON_MAX} tecken "
                        f"(nu {len(text)}); skriv ett diarienummer och en kort rad.")
    if problems:
        raise HoldProblem("\n".join(problems))
    return HoldRequest(area, starts_on, ends_on, text)


# ---------------------------------------------------------------- weekly aggregates

def week_start(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday of the ISO week ``moment`` falls in, local time."""
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def week_bounds(first_week: date, last_week: date, tz: ZoneInfo
                ) -> list[tuple[date, datetime, datetime]]:
    """(Monday, start, end) in UTC of every ISO week from the one of ``first_week`` to the
    one of ``last_week``; a week across a DST change is 167 or 169 hours long."""
    monday = first_week - timedelta(days=first_week.weekday())
    last = last_week - timedelta(days=last_week.weekday())
    weeks = []
    while monday <= last:
        following = monday + timedelta(days=7)
        weeks.append((monday, local_midnight(monday, tz), local_midnight(following, tz)))
        monday = following
    return weeks


CellKey = tuple[str, date, str, str]  # area, week start (Monday), category, org kind


@dataclass
class Cell:
    """One weekly aggregate: how many reports, their summed severity and analysis weight."""

    report_count: int = 0
    severity_sum: int = 0
    weight_sum: float = 0.0

    def add(self, severity: int | None, weight: float) -> None:
        self.report_count += 1
        self.severity_sum += severity or 0
        self.weight_sum += weight


def weekly_cells(facts: Iterable[ReportFact], config: DeploymentConfig) -> dict[CellKey, Cell]:
    """What is kept of these reports once they are deleted.

    Every report counts once in its ``ALL_CATEGORIES`` cell and once in the cell of each
    of its categories, per area, ISO week (Monday, local time) and kind of organisation.
    A withdrawn report counts nowhere, as in the lägesbild. The weight is the analysis's
    weight × crowd × severity without recency (est.analysis): per category that
    category's weight, in the all-categories cell the highest problem weight (0 for a
    report of no problem category).
    """
    rules = rules_for(config)
    cells: dict[CellKey, Cell] = {}
    for fact in facts:
        if fact.withdrawn:
            continue
        org = config.organisation(fact.org_key)
        org_kind = org.kind if org is not None else UNKNOWN_ORG_KIND
        week = week_start(fact.occurred_at, config.tz)
        crowd = rules.crowd_factors.get(fact.people or "", 1.0)
        severity = 1.0 if fact.severity is None else rules.severity_factors.get(fact.severity,
                                                                                1.0)
        problems = config.problem_categories(fact.category_keys)
        overall = max((c.weight for c in problems), default=0.0) * crowd * severity
        cells.setdefault((fact.area_key, week, ALL_CATEGORIES, org_kind), Cell()).add(
            fact.severity, overall)
        for key in dict.fromkeys(fact.category_keys):
            category = config.category(key)
            weight = (category.weight if category is not None else 0.0) * crowd * severity
            cells.setdefault((fact.area_key, week, key, org_kind), Cell()).add(
                fact.severity, weight)
    return cells


# ---------------------------------------------------------------- runs and summaries

@dataclass(frozen=True)
class PurgeResult:
    """What one run removed (or, dry, would remove) per kind, and what holds kept."""

    counts: Mapping[str, int]
    held: int = 0  # reports due for some step that a hold keeps
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Month:
    key: str  # "2026-10"
    label: str  # "oktober 2026"
    since: datetime  # UTC
    until: datetime  # UTC


def previous_month(now: datetime, tz: ZoneInfo) -> Month:
    """The calendar month before the one ``now`` is in, local time."""
    local = now.astimezone(tz).date()
    first = local.replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    return Month(f"{start:%Y-%m}", f"{_MONTHS[start.month - 1]} {start.year}",
                 local_midnight(start, tz), local_midnight(first, tz))


@dataclass(frozen=True)
class MonthSummary:
    month: Month
    runs: int
    counts: Mapping[str, int] = field(default_factory=dict)
    holds: int = 0  # active holds now
    held: int = 0  # reports they keep that would otherwise be due

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[tuple[PurgeKind, int]]:
        """The kinds with something purged, in run order."""
        return [(kind, self.counts[kind.key]) for kind in PURGE_KINDS
                if self.counts.get(kind.key)]


def sum_counts(batches: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Per kind, the counts of the audited batches (kind, count) of a period."""
    totals = dict.fromkeys(KIND_KEYS, 0)
    for kind, count in batches:
        if kind in totals:
            totals[kind] += count
    return totals
