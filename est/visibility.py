"""Who may see which reports: the egen/förmedlad split of seed 002 applied to coordinators.

A reporter marks a report as förmedlad (shared with every coordinator) or egen (kept
within the own organisation, e.g. for secrecy). Unknown sharing values are treated as
egen: when in doubt, show less.

A typed place name ("Annan plats") is the reporter's own words, free text like the
description: it may name a person or a home. Where free text may not be shown, a
configured place keeps its name and a typed one reads ``OTHER_PLACE``; the area is
shown beside it anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from est.analysis import FREE_PLACE_PREFIX, ReportFact
from est.config import DeploymentConfig
from est.recipients import Person
from est.report_draft import FORMEDLAD

# What a typed place name reads where free text may not be shown.
OTHER_PLACE = "Annan plats"


def visible_to_coordinator(report_sharing: str, report_org_key: str, viewer_org_key: str) -> bool:
    """Förmedlade reports are for all coordinators; egen ones only for the own organisation."""
    return report_sharing == FORMEDLAD or report_org_key == viewer_org_key


def visible_in_group(report_sharing: str) -> bool:
    """A group holds coordinators of several organisations: it sees förmedlade reports only.

    Whatever a group is shown (an alert, a suggestion, a lägesbild) is computed from these
    reports alone, so that nothing there moves because of a report it may not see.
    """
    return report_sharing == FORMEDLAD


def egen_readers(org_key: str, people: Iterable[Person]) -> list[Person]:
    """Who reads an organisation's egen reports: its active coordinators and admins, by
    member id. Without any, an egen report is seen by nobody."""
    return sorted((p for p in people if p.is_coordinator and p.active and p.org_key == org_key),
                  key=lambda p: p.member_id)


def free_text_allowed(in_group: bool, config: DeploymentConfig) -> bool:
    """Free text may name people; groups get it only when the kommun has chosen so."""
    return not in_group or config.reporting.free_text_in_groups


def filter_visible(
    facts_with_sharing: Iterable[tuple[ReportFact, str]], viewer_org_key: str
) -> list[ReportFact]:
    """The reports a coordinator from ``viewer_org_key`` may see, in the given order.

    Run the analysis on this subset before showing its results, so that a score or a
    hotspot never reveals another organisation's egen reports.
    """
    return [
        fact
        for fact, sharing in facts_with_sharing
        if visible_to_coordinator(sharing, fact.org_key, viewer_org_key)
    ]


def shown_place(config: DeploymentConfig, area_key: str, place_key: str | None,
                typed: str | None, *, free_text: bool) -> str | None:
    """A place as a reader is shown it: a configured place by its name; a typed name on
    one line where ``free_text`` is allowed, else ``OTHER_PLACE``; a place key the config
    no longer knows as the key. None when there is no place at all."""
    if place_key and config.place(area_key, place_key) is not None:
        return config.place_name(area_key, place_key)
    line = " ".join((typed or "").split())
    if line:
        return line if free_text else OTHER_PLACE
    return place_key or None


def shown_place_label(place_label_key: str, label: str, *, free_text: bool) -> str:
    """A hotspot's label (est.analysis.place_label_key): a typed place's name only where
    ``free_text`` is allowed, else ``OTHER_PLACE``."""
    if not free_text and place_label_key.startswith(FREE_PLACE_PREFIX):
        return OTHER_PLACE
    return label
