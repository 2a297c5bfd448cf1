"""Who may see which reports: the egen/förmedlad split of seed 002 applied to coordinators.

A reporter marks a report as förmedlad (shared with every coordinator) or egen (kept
within the own organisation, e.g. for secrecy). Unknown sharing values are treated as
egen: when in doubt, show less.
"""

from __future__ import annotations

from collections.abc import Iterable

from est.analysis import ReportFact
from est.config import DeploymentConfig
from est.report_draft import FORMEDLAD


def visible_to_coordinator(report_sharing: str, report_org_key: str, viewer_org_key: str) -> bool:
    """Förmedlade reports are for all coordinators; egen ones only for the own organisation."""
    return report_sharing == FORMEDLAD or report_org_key == viewer_org_key


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
