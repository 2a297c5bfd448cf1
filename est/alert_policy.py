"""When the coordinators are alerted, and where to: the rules behind bot.features.levels.alerts.

Suggestions (est.analysis.suggest_level): an area's suggestion is alerted only when it
ranks above the area's current level. There is at most one open suggestion per area: a
new evaluation updates it instead of alerting anew. Without an open one, a suggestion
of a level that coordinators decided on (raised or kept) for the area at most
``alert_cooldown_hours`` ago is not alerted again; the boundary itself still counts as
inside the cooldown. Suggestions go to the coordinator groups
(est.recipients.coordinator_groups).

What the groups see is computed from the reports they may see (est.visibility): a
report moves the groups' alert (is evaluated, may edit or re-send it) only when the
groups may see it, or when their open alert already counted it (a förmedlad report
edited to egen: the alert is corrected). An egen report alone never touches a group's
alert, not even to refresh a decayed score or an "Uppdaterad" time: that would tell the
group that an unshared report just came in for the area.

Urgent reports: a report in a category marked ``urgent = true``
(est.analysis.urgent_reports) alerts at once, whatever the level, once per report (an
edit within ``URGENT_MEMORY`` does not alert again). A förmedlad report goes to the
coordinator groups; an egen report must stay within its organisation, so it goes in
private to that organisation's active coordinators and admins.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from est.analysis import ReportFact, urgent_reports
from est.config import DeploymentConfig
from est.levels import Level
from est.recipients import Person
from est.visibility import egen_readers, visible_in_group

# What to do with a suggestion.
NO_ALERT, UPDATE_OPEN, NEW_ALERT = "none", "update", "new"
# An edited report is not alerted twice as urgent within this window.
URGENT_MEMORY = timedelta(days=14)


def above_current(suggested: Level, current: Level) -> bool:
    """Whether a suggestion is news: it ranks above the current level (orange > gult)."""
    return suggested.rank > current.rank


def in_cooldown(last_decided_at: datetime | None, now: datetime,
                cooldown_hours: float) -> bool:
    """Whether the last decision on a suggestion of this level is at most the cooldown ago."""
    if last_decided_at is None:
        return False
    return last_decided_at >= now - timedelta(hours=cooldown_hours)


def suggestion_action(suggested: Level, current: Level, *, has_open: bool,
                      last_decided_at: datetime | None, now: datetime,
                      cooldown_hours: float) -> str:
    """``NO_ALERT``, ``UPDATE_OPEN`` (refresh the area's open alert) or ``NEW_ALERT``.

    ``last_decided_at``: when a suggestion of ``suggested``'s level for the area was last
    raised or kept (None: never); it only matters when no suggestion is open.
    """
    if not above_current(suggested, current):
        return NO_ALERT
    if has_open:
        return UPDATE_OPEN
    if in_cooldown(last_decided_at, now, cooldown_hours):
        return NO_ALERT
    return NEW_ALERT


def report_moves_group_alert(sharing: str, report_id: int,
                             counted_report_ids: Collection[int]) -> bool:
    """Whether a stored report may re-evaluate the area for the coordinator groups.

    ``counted_report_ids``: the reports the area's open alert counted (empty without one).
    """
    return visible_in_group(sharing) or report_id in counted_report_ids


def urgent_labels(fact: ReportFact, config: DeploymentConfig) -> list[str]:
    """The labels of a report's urgent categories; empty when the report is not urgent."""
    if not urgent_reports([fact], config):
        return []
    return [c.label for key in fact.category_keys
            if (c := config.category(key)) is not None and c.urgent]


def urgent_due(fact: ReportFact, config: DeploymentConfig,
               alerted_report_ids: Collection[int]) -> bool:
    """An urgent report that has not alerted yet (``alerted_report_ids``: within
    ``URGENT_MEMORY``; an edited report keeps its id)."""
    return bool(urgent_labels(fact, config)) and fact.report_id not in alerted_report_ids


@dataclass(frozen=True)
class UrgentRoute:
    """Where an urgent alert goes: the coordinator groups, or these private chats."""

    to_groups: bool
    private_chat_ids: tuple[int, ...] = ()


def urgent_route(sharing: str, org_key: str, coordinators: Iterable[Person]) -> UrgentRoute:
    """A förmedlad report: the coordinator groups. An egen one: in private, to the active
    coordinators and admins of the report's own organisation (by member id)."""
    if visible_in_group(sharing):
        return UrgentRoute(to_groups=True)
    own = egen_readers(org_key, coordinators)
    return UrgentRoute(to_groups=False, private_chat_ids=tuple(p.chat_id for p in own))


__all__ = [
    "NEW_ALERT",
    "NO_ALERT",
    "UPDATE_OPEN",
    "URGENT_MEMORY",
    "UrgentRoute",
    "above_current",
    "in_cooldown",
    "report_moves_group_alert",
    "suggestion_action",
    "urgent_due",
    "urgent_labels",
    "urgent_route",
]
