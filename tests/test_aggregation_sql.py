"""Counting in SQL gives the numbers the Python over every report gave.

On generated data (bench/generate.py, seeded), on SQLite and on PostgreSQL
(TEST_DATABASE_URL):
- ``storage.facts.report_tallies`` equals ``est.tallies.tally_facts`` over the facts
  ``storage.facts.report_facts`` loads, for every kind of viewer (group, a coordinator of
  each organisation, no viewer) and for one area;
- the pictures, the digest and the briefing composed from SQL equal those composed from
  the facts, and their numbers equal a small reference implementation of the per-report
  Python they replace (``_reference_*`` below, loops over every report);
- on PostgreSQL, the lägesbild, the briefing and the digest compose with more than 40,000
  reports in their windows (asyncpg refuses more than 32,767 parameters: no query may
  have one per report).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bench.generate import DEFAULT_NOW, populate
from bot.core.services import Services
from bot.features.lagesbild.picture import build_picture_pages, render_pages
from bot.outbound import posts
from est import briefing as est_briefing
from est import digest as est_digest
from est.analysis import place_label_key, rules_for, trend
from est.lagesbild import (
    HISTORY_WEEKS,
    compose_picture,
    compose_picture_from_tallies,
    visible_facts,
    window_end,
)
from est.report_draft import FORMEDLAD
from est.tallies import tally_facts
from est.visibility import free_text_allowed, shown_place_label
from storage.agenda import agenda_entries
from storage.db import Database
from storage.facts import picture_tallies, recent_facts, report_facts, report_tallies
from storage.levels import latest_checklist_strength
from storage.models import Report
from storage.picture import level_infos, open_insatser, report_texts, upcoming_events
from tests.utils.database import TEST_DATABASE_URL

NOW = DEFAULT_NOW
WEEK = timedelta(days=7)
# (viewer organisation, in a group): a group, coordinators of several organisations
# (obo works in some areas only), and a private chat without a known organisation.
VIEWERS = [(None, True), ("polisen", False), ("obo", False), ("securitas", False),
           (None, False)]


@pytest.fixture
async def generated(database_url, config):
    """Nine weeks of generated data: dense enough for hotspots, trends and recurring
    places in every area, egna reports of every organisation, typed place names."""
    await populate(database_url, config, reports=6000, seed=11, now=NOW, weeks=9)
    db = Database(database_url)
    yield Services(config=config, db=db, clock=lambda: NOW)
    await db.dispose()


async def _all_facts(services):
    async with services.db.session() as session:
        return await report_facts(session, since=NOW - 10 * WEEK, until=NOW + WEEK,
                                  include_withdrawn=True)


# --- SQL tallies against Python tallies --------------------------------------------------


@pytest.mark.parametrize(("viewer", "in_group"), VIEWERS)
@pytest.mark.parametrize(("area_key", "kind_weeks"), [(None, 1), ("vivalla", 1), (None, 2)])
async def test_sql_tallies_equal_python_tallies(generated, config, viewer, in_group, area_key,
                                                kind_weeks):
    facts = await _all_facts(generated)
    end = window_end(NOW)
    # With two weeks of kinds as the digest reads them: with the matrix's columns too.
    columns = est_digest.matrix_bounds(config, NOW) if kind_weeks == 2 else ()
    async with generated.db.session() as session:
        sql = await report_tallies(session, config, end=end, weeks=HISTORY_WEEKS,
                                   kind_weeks=kind_weeks, viewer_org_key=viewer,
                                   in_group=in_group, area_key=area_key, columns=columns)
    shown = visible_facts([(f, s) for f, s in facts if area_key in (None, f.area_key)],
                          viewer, in_group)
    python = tally_facts(shown, config, end, weeks=HISTORY_WEEKS, kind_weeks=kind_weeks,
                         columns=columns)
    assert {k.week for k in sql.kinds} == set(range(kind_weeks))
    assert dict(sql.column_counts) == dict(python.column_counts)
    assert bool(sql.column_counts) == bool(columns)
    assert sql.kinds and sql.places and sql.notable  # the data exercises every part
    assert Counter(sql.kinds) == Counter(python.kinds)
    assert Counter(sql.orgs) == Counter(python.orgs)
    assert Counter(sql.places) == Counter(python.places)
    assert dict(sql.notable) == dict(python.notable)


async def test_sql_counts_respect_visibility(generated, config):
    """Another organisation's egna reports never enter a coordinator's counts."""
    facts = await _all_facts(generated)
    end = window_end(NOW)
    async with generated.db.session() as session:
        polisen = await report_tallies(session, config, end=end, weeks=1,
                                       viewer_org_key="polisen")
        group = await report_tallies(session, config, end=end, weeks=1, in_group=True,
                                     viewer_org_key="polisen")
    week = [(f, s) for f, s in facts if end - WEEK <= f.occurred_at < end and not f.withdrawn]
    egen_other = sum(1 for f, s in week if s != FORMEDLAD and f.org_key != "polisen")
    egen_own = sum(1 for f, s in week if s != FORMEDLAD and f.org_key == "polisen")
    assert egen_other and egen_own
    total = sum(k.count for k in polisen.kinds)
    assert total == len(week) - egen_other
    assert sum(k.count for k in group.kinds) == total - egen_own
    assert {o.org_key for o in group.orgs} <= {f.org_key for f, s in week if s == FORMEDLAD}


async def test_sql_recent_facts_and_matrix_counts(generated, config):
    facts = await _all_facts(generated)
    shared = visible_facts(facts, None, in_group=True)
    window = timedelta(days=rules_for(config).window_days)
    bounds = est_digest.matrix_bounds(config, NOW)
    async with generated.db.session() as session:
        recent = await recent_facts(session, config, after=NOW - window, until=NOW,
                                    in_group=True)
        counts = dict((await report_tallies(
            session, config, end=window_end(NOW), weeks=HISTORY_WEEKS, in_group=True,
            columns=bounds)).column_counts)
    expected = [f for f in shared if not f.withdrawn and NOW - window < f.occurred_at <= NOW
                and config.known_categories(f.category_keys)]
    assert sorted(f.report_id for f in recent) == sorted(f.report_id for f in expected)
    assert len(recent) > 100
    reference: Counter[tuple[str, int]] = Counter()
    for fact in shared:
        if fact.withdrawn or not config.problem_categories(fact.category_keys):
            continue
        for column, (start, stop) in enumerate(bounds):
            if start <= fact.occurred_at < stop:
                reference[fact.area_key, column] += 1
    assert counts == dict(reference)
    assert len({column for _, column in counts}) == len(bounds)


# --- the reference: the per-report Python that counting in SQL replaced -----------------


def _reference_places(config, facts, start, end, rules):
    weighted, counts, labels = defaultdict(float), Counter(), {}
    for fact in sorted(facts, key=lambda f: f.occurred_at):
        key = place_label_key(fact)
        if key is None or fact.withdrawn or not start <= fact.occurred_at < end:
            continue
        problems = config.problem_categories(fact.category_keys)
        if not problems:
            continue
        severity = (1.0 if fact.severity is None
                    else rules.severity_factors.get(fact.severity, 1.0))
        place = (fact.area_key, key)
        weighted[place] += (max(c.weight for c in problems)
                            * rules.crowd_factors.get(fact.people or "", 1.0) * severity)
        counts[place] += 1
        name = config.place_name(fact.area_key, fact.place_key, fact.place_name)
        labels.setdefault(place, " ".join((name or "").split()))
    return weighted, counts, labels


def _reference_hotspots(config, facts, end, show_text):
    rules, threshold = rules_for(config), config.analysis.hotspot_threshold
    weighted, counts, labels = _reference_places(config, facts, end - WEEK, end, rules)
    earlier = [_reference_places(config, facts, end - (k + 1) * WEEK, end - k * WEEK,
                                 rules)[1] for k in range(1, 5)]
    found = [(-value, labels[p], p, counts[p], trend(counts[p], [c[p] for c in earlier]))
             for p, value in weighted.items() if value >= threshold]
    return [(shown_place_label(p[1], label, free_text=show_text), p[1], count, -minus, t)
            for minus, label, p, count, t in sorted(found)]


def _reference_recurring(config, facts, end, show_text):
    rules, threshold = rules_for(config), config.analysis.hotspot_threshold
    weeks, labels = Counter(), {}
    for k in range(1, 5):
        weighted, _, week_labels = _reference_places(config, facts, end - k * WEEK,
                                                     end - (k - 1) * WEEK, rules)
        for place, value in weighted.items():
            if value >= threshold:
                weeks[place] += 1
                labels.setdefault(place, week_labels[place])
    found = sorted((-n, labels[p], p) for p, n in weeks.items() if n >= 3)
    return [(shown_place_label(p[1], label, free_text=show_text), -minus)
            for minus, label, p in found]


def _reference_area(config, shown, area_key, show_text):
    """The old est.lagesbild._area_picture's numbers, report by report."""
    end = window_end(NOW)
    order = {c.key: i for i, c in enumerate(config.categories)}
    mine = [f for f in shown if f.area_key == area_key and not f.withdrawn]
    week = [f for f in mine if end - WEEK <= f.occurred_at < end]
    by_category, orgs, problem_orgs = Counter(), set(), set()
    problems = calm = positive = 0
    notable = []
    for fact in week:
        orgs.add(fact.org_key)
        categories = sorted(config.known_categories(fact.category_keys),
                            key=lambda c: order[c.key])
        problem = [c for c in categories if c.is_problem]
        calm += any(c.calm for c in categories)
        positive += any(c.positive for c in categories)
        if not problem:
            continue
        problems += 1
        problem_orgs.add(fact.org_key)
        by_category.update(c.key for c in problem)
        urgent = any(c.urgent for c in problem)
        if urgent or (fact.severity or 0) >= 3:
            notable.append((not urgent, -fact.occurred_at.timestamp(), fact.report_id))
    notable.sort(key=lambda n: n[:2])
    previous = [sum(1 for f in mine if end - (k + 1) * WEEK <= f.occurred_at < end - k * WEEK
                    and config.problem_categories(f.category_keys)) for k in range(1, 5)]
    return {
        "reports": len(week), "problems": problems, "calm": calm, "positive": positive,
        "organisations": len(orgs), "problem_organisations": len(problem_orgs),
        "categories": [(config.category_label(k), n) for k, n in
                       sorted(by_category.items(), key=lambda kv: (-kv[1], order[kv[0]]))],
        "notable": [n[2] for n in notable[:8]], "notable_more": max(0, len(notable) - 8),
        "previous": previous, "trend": trend(problems, previous),
        "hotspots": _reference_hotspots(config, mine, end, show_text),
        "recurring": _reference_recurring(config, mine, end, show_text),
    }


def _numbers(area):
    return {
        "reports": area.reports, "problems": area.problem_reports, "calm": area.calm_reports,
        "positive": area.positive_reports, "organisations": area.organisations,
        "problem_organisations": area.problem_organisations,
        "categories": [(c.label, c.count) for c in area.categories],
        "notable": [n.report_id for n in area.notable], "notable_more": area.notable_more,
        "previous": area.previous_weeks, "trend": area.trend,
        "hotspots": [(h.label, h.place_label_key, h.count, h.weighted, h.trend)
                     for h in area.hotspots],
        "recurring": [(r.label, r.weeks) for r in area.recurring],
    }


def _on_half_step(value: float) -> bool:
    """x.x5 up to float noise: where one decimal rounds either way."""
    return abs(value * 10 % 1 - 0.5) < 1e-6


def _same_numbers(got, expected):
    """Equal; the hotspot weights within float noise, and equal as shown (one decimal).

    The weight of a place is now summed exactly, so it no longer depends on the order
    the reports are added in. The old float sum, added in time order, could land on
    either side of a half step (45.15 showed as "45,1" or "45,2" by report order): only
    there may the shown decimal differ.
    """
    got_spots, expected_spots = got.pop("hotspots"), expected.pop("hotspots")
    assert got == expected
    assert [s[:3] + s[4:] for s in got_spots] == [s[:3] + s[4:] for s in expected_spots]
    for mine, theirs in zip(got_spots, expected_spots, strict=True):
        assert mine[3] == pytest.approx(theirs[3], rel=1e-12)
        if not _on_half_step(theirs[3]):
            assert f"{mine[3]:.1f}" == f"{theirs[3]:.1f}"


@pytest.mark.parametrize(("viewer", "in_group"), VIEWERS)
async def test_picture_from_sql_equals_reference(generated, config, viewer, in_group):
    facts = await _all_facts(generated)
    show_text = free_text_allowed(in_group, config)
    async with generated.db.session() as session:
        tallies, texts = await picture_tallies(session, config, now=NOW, viewer_org_key=viewer,
                                               in_group=in_group, with_texts=show_text)
        levels = await level_infos(session)
        events = await upcoming_events(session, since=NOW, until=NOW + 2 * WEEK)
        insatser = await open_insatser(session, now=NOW)
        all_texts = await report_texts(session, since=NOW - WEEK, until=window_end(NOW))
    sql = compose_picture_from_tallies(config, tallies, levels, events, insatser, NOW,
                                       viewer_org_key=viewer, in_group=in_group,
                                       free_texts=texts)
    python = compose_picture(config, facts, levels, events, insatser, NOW,
                             viewer_org_key=viewer, in_group=in_group,
                             free_texts=all_texts if show_text else None)
    assert sql == python
    assert render_pages(generated, sql, in_group) == render_pages(generated, python, in_group)
    shown = visible_facts(facts, viewer, in_group)
    assert any(a.hotspots for a in sql.areas) and any(a.recurring for a in sql.areas)
    for area in sql.areas:
        _same_numbers(_numbers(area), _reference_area(config, shown, area.area_key, show_text))
    if show_text:
        assert any(n.text for a in sql.areas for n in a.notable)


async def test_lagesbild_command_pages_equal_python(generated, config):
    facts = await _all_facts(generated)
    async with generated.db.session() as session:
        levels = await level_infos(session)
        events = await upcoming_events(session, since=NOW, until=NOW + 2 * WEEK,
                                       area_key="oxhagen")
        insatser = await open_insatser(session, now=NOW, area_key="oxhagen")
        texts = await report_texts(session, since=NOW - WEEK, until=window_end(NOW))
    pages = await build_picture_pages(generated, "faltgruppen", False, "oxhagen")
    python = compose_picture(config, facts, levels, events, insatser, NOW, "oxhagen",
                             viewer_org_key="faltgruppen", free_texts=texts)
    assert pages == render_pages(generated, python, False)


async def test_posts_from_sql_equal_reference(generated, config):
    """The daily lägesbild, the digest (texts, matrix, bars) and the briefing."""
    facts = await _all_facts(generated)
    shared = [f for f in visible_facts(facts, None, in_group=True) if not f.withdrawn]
    async with generated.db.session() as session:
        changes, levels = await posts._level_history(session, NOW)
        events = await upcoming_events(session, since=NOW, until=NOW + 2 * WEEK)
        insatser = await open_insatser(session, now=NOW)
        agenda = await agenda_entries(session, at=NOW)
    async with generated.db.session() as session:
        strengths = {a.key: s for a in config.areas
                     if (s := await latest_checklist_strength(session, a.key)) is not None}

    digest, matrix, bars = await posts.digest_inputs(generated, NOW)
    python = est_digest.compose_digest(config, facts, levels, events, insatser, agenda, NOW,
                                       strengths)
    assert digest == python
    assert matrix == est_digest.level_matrix(config, changes, shared, NOW)
    assert bars == est_digest.hotspot_bars(python.picture)
    assert posts.digest_pages(generated, digest) == posts.digest_pages(generated, python)
    # Point 1 against the reference, report by report.
    end = window_end(NOW)
    for area in digest.facts:
        mine = [f for f in shared if f.area_key == area.area_key]
        this = [f for f in mine if end - WEEK <= f.occurred_at < end]
        last = [f for f in mine if end - 2 * WEEK <= f.occurred_at < end - WEEK]
        assert area.problem_reports == sum(
            1 for f in this if config.problem_categories(f.category_keys))
        assert area.last_week_problem_reports == sum(
            1 for f in last if config.problem_categories(f.category_keys))
        assert area.calm_reports == sum(
            1 for f in this if any(c.calm for c in config.known_categories(f.category_keys)))
        assert area.organisations == len({f.org_key for f in this})
        this_cats = Counter(c.label for f in this for c in config.problem_categories(
            f.category_keys))
        assert {c.label: c.this_week for c in area.categories} == {
            c.label: this_cats[c.label] for c in area.categories}
        assert sum(c.this_week for c in area.categories) == sum(this_cats.values())
    assert any(cell.reports for row in matrix.cells for cell in row)

    briefing = await posts.briefing_data(generated, NOW)
    async with generated.db.session() as session:
        weekend = await upcoming_events(session, since=NOW,
                                        until=est_briefing.weekend_end(config, NOW))
    python_briefing = est_briefing.compose_briefing(config, facts, changes, weekend, NOW)
    assert briefing == python_briefing
    for area in briefing.areas:
        reference = _reference_area(config, shared, area.area_key, False)
        assert area.problem_reports == reference["problems"]
        assert area.previous_problem_reports == reference["previous"][0]
    spots = sorted((-h[3], h[0], a.key, h[2]) for a in config.areas
                    for h in _reference_area(config, shared, a.key, False)["hotspots"])
    assert [(p.label, p.count) for p in briefing.places] == [
        (label, count) for _, label, _, count in spots[:3]]
    assert briefing.calm_reports == sum(
        1 for f in shared if end - WEEK <= f.occurred_at < end
        and any(c.calm for c in config.known_categories(f.category_keys)))

    daily = await posts.compose_daily(generated, NOW)
    picture = compose_picture(config, facts, levels, events, insatser, NOW, in_group=True)
    assert daily.texts == posts.daily_pages(generated, picture)


# --- PostgreSQL at size ------------------------------------------------------------------


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only (TEST_DATABASE_URL)")
async def test_postgres_composes_with_over_40000_reports_in_the_windows(database_url, config):
    summary = await populate(database_url, config, reports=48_000, seed=5, now=NOW, weeks=5)
    db = Database(database_url)
    services = Services(config=config, db=db, clock=lambda: NOW)
    try:
        end = window_end(NOW)
        async with db.session() as session:
            in_window = (await session.exec(select(func.count()).select_from(Report).where(
                Report.occurred_at >= end - HISTORY_WEEKS * WEEK, Report.occurred_at < end)
            )).one()[0]
            shared_week = (await session.exec(select(func.count()).select_from(Report).where(
                Report.occurred_at >= end - WEEK, Report.occurred_at < end,
                Report.withdrawn_at.is_(None), Report.sharing == FORMEDLAD))).one()[0]
            # report_facts once sent one parameter per report: more than asyncpg allows.
            facts = await report_facts(session, since=end - HISTORY_WEEKS * WEEK, until=end)
        assert summary.reports == in_window == 48_000
        assert len(facts) > 32_767

        daily = await posts.compose_daily(services, NOW)
        digest = await posts.compose_digest(services, NOW)
        briefing = await posts.compose_briefing(services, NOW)
        pages = await build_picture_pages(services, "polisen", False)
        assert daily.texts and digest.texts and len(digest.images) == 2 and briefing.texts
        assert pages

        digest_data, matrix, _ = await posts.digest_inputs(services, NOW)
        picture = digest_data.picture
        assert sum(a.reports for a in picture.areas) == shared_week
        assert sum(cell.reports for row in matrix.cells for cell in row) > 0
        python = compose_picture(config, facts, {}, [], [], NOW, in_group=True)
        async with db.session() as session:
            tallies, _ = await picture_tallies(session, config, now=NOW, in_group=True,
                                               with_texts=False)
        assert compose_picture_from_tallies(config, tallies, {}, [], [], NOW,
                                            in_group=True) == python
        # The digest's picture is the same but for the single reports, which it never shows.
        assert [{**_numbers(a), "notable": []} for a in python.areas] == [
            _numbers(a) for a in picture.areas]
    finally:
        await db.dispose()
