"""The samlad lägesbild as plain data, its rendering and its split into Telegram pages."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.dialogs.paging import MESSAGE_LIMIT as TEXT_LIMIT
from bot.dialogs.paging import pack_pages
from bot.features.lagesbild.picture import render_pages
from est.analysis import ReportFact
from est.config import default_config_path, load_config
from est.lagesbild import (
    NOTABLE_MAX,
    EventInfo,
    InsatsInfo,
    LevelInfo,
    compose_picture,
    find_area,
    risk_days,
    visible_facts,
)
from est.levels import Level
from messages.render import Messages
from tests.fake_telegram.entities import parse_html, utf16_len

CONFIG = load_config(default_config_path())
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
HOUR, DAY, WEEK = timedelta(hours=1), timedelta(days=1), timedelta(days=7)

_ids = iter(range(1, 1_000_000))


def fact(**changes) -> ReportFact:
    base = ReportFact(
        report_id=next(_ids), area_key="vivalla", place_key="viv_centrum", place_name=None,
        org_key="nattvandrarna", category_keys=("skadegorelse",), people="3-5", severity=2,
        occurred_at=NOW - HOUR,
    )
    return replace(base, **changes)


def shared(*facts, sharing="formedlad"):
    return [(f, sharing) for f in facts]


def picture(facts, area_key="vivalla", config=CONFIG, levels=None, events=(), insatser=(),
            **kwargs):
    kwargs.setdefault("viewer_org_key", "nattvandrarna")
    return compose_picture(config, facts, levels or {}, list(events), list(insatser), NOW,
                           area_key, **kwargs)


def area(pic, key="vivalla"):
    return next(a for a in pic.areas if a.area_key == key)


class _Services:
    """What render_pages needs of Services: the config and the templates."""

    def __init__(self, config=CONFIG):
        self.config = config
        self.render = Messages(config.tz, config=config).render


# --- counts ------------------------------------------------------------------------------


def test_counts_by_category_organisations_calm_and_positive():
    facts = shared(
        fact(),
        fact(category_keys=("skadegorelse", "stenkastning"), org_key="securitas"),
        fact(category_keys=("samling",)),
        fact(category_keys=("lugnt",), people="0"),
        fact(category_keys=("lugnt",), people="0", org_key="obo"),
        fact(category_keys=("positivt",)),
        fact(withdrawn=True),  # withdrawn: gone
        fact(occurred_at=NOW - WEEK - HOUR),  # before the period
        fact(area_key="centrum", place_key="cen_stortorget"),  # another area
    )
    a = area(picture(facts))
    assert a.reports == 6
    assert a.problem_reports == 3
    assert a.calm_reports == 2
    assert a.positive_reports == 1
    assert a.organisations == 3
    assert a.problem_organisations == 2
    assert [(c.label, c.count) for c in a.categories] == [
        ("Skadegörelse", 2), ("Samling av ungdomar", 1), ("Stenkastning", 1)]


def test_a_single_report_is_shown_and_a_report_made_this_second_counts():
    a = area(picture(shared(fact(occurred_at=NOW))))
    assert (a.reports, a.problem_reports, a.organisations) == (1, 1, 1)
    assert [(c.label, c.count) for c in a.categories] == [("Skadegörelse", 1)]


def test_every_area_in_config_order_and_green_by_default():
    pic = picture([], area_key=None)
    assert [a.area_key for a in pic.areas] == [a.key for a in CONFIG.areas]
    assert all(a.level is Level.GRON and a.level_set_at is None for a in pic.areas)
    assert all(a.reports == 0 and a.trend == "oförändrat" for a in pic.areas)


def test_level_with_reason_and_who_set_it():
    levels = {"vivalla": LevelInfo(Level.ROD, "Bilbränder\noch stenkastning", "Karin",
                                   "polisen", NOW - HOUR)}
    a = area(picture([], levels=levels))
    assert a.level is Level.ROD
    assert a.level_reason == "Bilbränder och stenkastning"
    assert (a.level_set_by, a.level_set_at) == ("Karin", NOW - HOUR)
    assert a.level_set_by_org == "Polisen, lokalpolisområde Örebro"


def test_unknown_area_is_an_error():
    with pytest.raises(ValueError):
        picture([], area_key="atlantis")


# --- visibility --------------------------------------------------------------------------


def test_egen_reports_only_for_the_own_organisation_in_private():
    facts = shared(fact(org_key="polisen", severity=4), sharing="egen") + shared(fact())
    own = area(picture(facts, viewer_org_key="polisen"))
    other = area(picture(facts, viewer_org_key="kommunen"))
    assert own.problem_reports == 2
    assert len(own.notable) == 1
    assert other.problem_reports == 1
    assert other.notable == []


def test_a_group_sees_only_formedlade_even_of_the_asking_organisation():
    facts = shared(fact(org_key="polisen"), sharing="egen") + shared(fact())
    pic = picture(facts, viewer_org_key="polisen", in_group=True)
    assert area(pic).problem_reports == 1
    assert pic.only_shared and pic.viewer_org_key is None
    # Without a known viewer, also only förmedlade.
    assert area(picture(facts, viewer_org_key=None)).problem_reports == 1
    assert len(visible_facts(facts, None, False)) == 1


def test_unknown_sharing_values_count_as_egen():
    assert visible_facts(shared(fact(org_key="polisen"), sharing="???"), "kommunen", False) == []


def test_hotspots_never_reveal_another_organisations_egen_reports():
    egen = [fact(org_key="polisen", category_keys=("stenkastning",), severity=4)
            for _ in range(3)]
    facts = shared(*egen, sharing="egen")
    assert area(picture(facts, viewer_org_key="polisen")).hotspots
    assert area(picture(facts, viewer_org_key="kommunen")).hotspots == []
    assert area(picture(facts, viewer_org_key="polisen", in_group=True)).hotspots == []


# --- notable reports and free text --------------------------------------------------------


def test_notable_reports_are_severe_or_urgent_newest_urgent_first():
    calm_severe = fact(category_keys=("lugnt",), severity=4)  # calm is never notable
    mild = fact(severity=2)
    severe = fact(severity=3, occurred_at=NOW - 2 * HOUR, place_key="viv_skola")
    urgent = fact(category_keys=("hot_vald",), severity=None, occurred_at=NOW - 3 * HOUR,
                  place_key=None, place_name="Parkeringen  bakom\nhuset")
    a = area(picture(shared(calm_severe, mild, severe, urgent)))
    assert [n.report_id for n in a.notable] == [urgent.report_id, severe.report_id]
    assert a.notable[0].urgent and a.notable[0].place == "Parkeringen bakom huset"
    assert a.notable[0].categories == ["Hot/våld mot personal"]
    assert a.notable[1].place == "Vivallaskolan" and a.notable[1].severity == 3


def test_notable_list_is_capped_with_a_count_of_the_rest():
    facts = shared(*[fact(severity=3, occurred_at=NOW - k * HOUR) for k in range(12)])
    a = area(picture(facts))
    assert len(a.notable) == NOTABLE_MAX
    assert a.notable_more == 12 - NOTABLE_MAX


def test_free_text_in_private_but_not_in_groups_unless_configured():
    severe = fact(severity=4)
    texts = {severe.report_id: "Stora  stenar\nvid porten"}
    private = area(picture(shared(severe), free_texts=texts))
    group = area(picture(shared(severe), free_texts=texts, in_group=True))
    assert private.notable[0].text == "Stora stenar vid porten"
    assert group.notable[0].text is None
    allowing = CONFIG.model_copy(update={"reporting": CONFIG.reporting.model_copy(
        update={"free_text_in_groups": True})})
    allowed = area(picture(shared(severe), config=allowing, free_texts=texts, in_group=True))
    assert allowed.notable[0].text == "Stora stenar vid porten"


def test_free_text_never_reaches_a_group_page():
    severe = fact(severity=4)
    texts = {severe.report_id: "HEMLIG-FRITEXT"}
    pic = picture(shared(severe), free_texts=texts, in_group=True)
    assert not any("HEMLIG-FRITEXT" in p for p in render_pages(_Services(), pic, True))
    pic = picture(shared(severe), free_texts=texts)
    assert any("HEMLIG-FRITEXT" in p for p in render_pages(_Services(), pic, False))


# --- hotspots, recurring deviations and trend ----------------------------------------------


def test_hotspot_appears_with_count_and_trend():
    # Three stenkastning (weight 4 × severity 1) at the school this week: 12 ≥ 5.
    facts = shared(*[fact(category_keys=("stenkastning",), place_key="viv_skola")
                     for _ in range(3)], fact())
    a = area(picture(facts))
    assert [(h.label, h.count, h.trend) for h in a.hotspots] == [("Vivallaskolan", 3, "ökar")]
    # The single skadegörelse at the centrum (2.0) is below the threshold.
    assert all(h.label != "Vivalla centrum (torget)" for h in a.hotspots)


def test_hotspot_threshold_comes_from_the_config():
    facts = shared(fact())  # weight 2 × severity 1 = 2.0
    assert area(picture(facts)).hotspots == []
    low = CONFIG.model_copy(update={"analysis": CONFIG.analysis.model_copy(
        update={"hotspot_threshold": 1.5})})
    assert len(area(picture(facts, config=low)).hotspots) == 1


def test_recurring_deviation_over_the_last_four_weeks():
    facts = shared(*[fact(category_keys=("stenkastning",), place_key="viv_skola",
                          occurred_at=NOW - k * WEEK - HOUR * j)
                     for k in (0, 1, 3) for j in (1, 2)])
    a = area(picture(facts))
    assert [(r.label, r.weeks) for r in a.recurring] == [("Vivallaskolan", 3)]


def test_trend_against_the_four_weeks_before():
    earlier = [fact(occurred_at=NOW - k * WEEK - HOUR) for k in (1, 2, 3, 4)]  # 1 a week
    rising = area(picture(shared(*earlier, *[fact() for _ in range(4)])))
    assert (rising.trend, rising.previous_weeks) == ("ökar", [1, 1, 1, 1])
    falling = [fact(occurred_at=NOW - k * WEEK - j * HOUR) for k in (1, 2, 3, 4)
               for j in range(1, 5)]
    a = area(picture(shared(*falling)))
    assert (a.trend, a.previous_weeks, a.previous_average) == ("minskar", [4, 4, 4, 4], 4.0)
    steady = area(picture(shared(*earlier, fact())))
    assert steady.trend == "oförändrat"


# --- events, insatser and risk days ---------------------------------------------------------


def test_events_of_the_next_fourteen_days_per_area_and_for_the_kommun():
    events = [
        EventInfo("vivalla", NOW + DAY, "Fotbollsmatch"),
        EventInfo("vivalla", NOW - HOUR, "Redan varit"),
        EventInfo("vivalla", NOW + 15 * DAY, "För långt fram"),
        EventInfo("centrum", NOW + DAY, "Demonstration i centrum"),
        EventInfo(None, NOW + 2 * DAY, "Nationell manifestation"),
    ]
    pic = picture([], area_key=None, events=events)
    assert [e.title for e in area(pic).events] == ["Fotbollsmatch"]
    assert [e.title for e in area(pic, "centrum").events] == ["Demonstration i centrum"]
    assert [e.title for e in pic.general_events] == ["Nationell manifestation"]


def test_planned_and_running_insatser_only():
    def insats(what, status="planned", start=NOW + DAY, end=NOW + 2 * DAY, area_key="vivalla"):
        return InsatsInfo(area_key, "viv_skola", None, what, "nattvandrarna", start, end, status)

    insatser = [
        insats("Planerad"),
        insats("Pågår", status="running", start=NOW - DAY),
        insats("Startad enligt plan", start=NOW - HOUR),
        insats("Klar", status="done"),
        insats("Inställd", status="cancelled"),
        insats("Slut", status="running", start=NOW - 3 * DAY, end=NOW - DAY),
        insats("Annat område", area_key="centrum"),
    ]
    a = area(picture([], insatser=insatser))
    assert [(i.what, i.running) for i in a.insatser] == [
        ("Pågår", True), ("Startad enligt plan", True), ("Planerad", False)]
    assert a.insatser[0].place == "Vivallaskolan"
    assert a.insatser[0].org_name == "Nattvandrarna Örebro"


def test_risk_days_in_the_coming_two_weeks():
    days = risk_days(CONFIG, datetime(2026, 10, 20, 12, tzinfo=UTC))
    names = [d.name for d in days]
    assert "Höstlov" in names
    assert any("Halloween" in name for name in names)
    assert not any("Nyårsafton" in name for name in names)
    holiday = next(d for d in days if d.name == "Höstlov")
    assert holiday.until is not None and holiday.until.date().isoformat() == "2026-10-30"


def test_find_area_by_key_or_name_any_case():
    assert find_area(CONFIG, "vivalla") == "vivalla"
    assert find_area(CONFIG, "BARONBACKARNA") == "baronbackarna"
    assert find_area(CONFIG, "  Centrum ") == "centrum"
    assert find_area(CONFIG, "Atlantis") is None
    assert find_area(CONFIG, "") is None


# --- rendering and pages ---------------------------------------------------------------------


def _check_page(page: str) -> None:
    text, _ = parse_html(page)  # raises on unbalanced or invalid tags
    assert utf16_len(text) <= TEXT_LIMIT
    assert utf16_len(page) <= TEXT_LIMIT


def _busy_facts(text_len: int):
    """Many severe reports in every area, each with a long free text."""
    facts, texts = [], {}
    for a in CONFIG.areas:
        for k in range(NOTABLE_MAX + 2):
            place = a.places[k % len(a.places)]
            f = fact(area_key=a.key, place_key=place.key, severity=3 + k % 2,
                     category_keys=("stenkastning", "skadegorelse", "samling"),
                     occurred_at=NOW - k * HOUR, org_key=CONFIG.organisations[k % 5].key)
            facts.append((f, "formedlad"))
            texts[f.report_id] = f"<b>{a.name}</b> & " + "stenar vid porten " * (text_len // 18)
    return facts, texts


def test_a_level_is_shown_as_a_coloured_emoji():
    levels = {"vivalla": LevelInfo(Level.GUL, "Oro", "Karin", "kommunen", NOW),
              "oxhagen": LevelInfo(Level.ROD, "Bränder", "Karin", "kommunen", NOW),
              "varberga": LevelInfo(Level.ORANGE, "Efterarbete", "Karin", "kommunen", NOW)}
    (page,) = render_pages(_Services(), picture([], area_key=None, levels=levels), False)
    assert "🟡 <b>Vivalla</b> – Gult läge" in page
    assert "🔴 <b>Oxhagen</b> – Rött läge" in page
    assert "🟠 <b>Varberga</b> – Orange läge" in page
    assert "🟢 <b>Centrum</b> – Grönt läge" in page
    assert "💬 Oro" in page and "Karin (Örebro kommun)" in page
    _check_page(page)


def test_a_long_picture_splits_between_areas_with_balanced_tags():
    facts, texts = _busy_facts(200)
    services = _Services()
    pic = picture(facts, area_key=None, free_texts=texts)
    pages = render_pages(services, pic, False)
    assert len(pages) > 1
    for page in pages:
        _check_page(page)
    assert "Samlad lägesbild – Örebro kommun" in pages[0]
    assert all("(forts.)" in page for page in pages[1:])
    for a in pic.areas:
        block = services.render("lagesbild", "area", a=a, p=pic)
        # Each area whole, on exactly one page.
        assert sum(block in page for page in pages) == 1
        assert sum(f"<b>{a.area_name}</b> –" in page for page in pages) == 1


def test_an_area_too_long_for_one_message_is_cut_at_a_line():
    facts, texts = _busy_facts(590)
    services = _Services()
    pic = picture(facts, area_key=None, free_texts=texts)
    pages = render_pages(services, pic, False)
    assert len(pages) >= len(CONFIG.areas)
    for page in pages:
        _check_page(page)
        assert "förkortad" in page
        for line in page.split("\n"):
            parse_html(line)  # every line is complete HTML on its own
    single = render_pages(services, picture(facts, free_texts=texts), False)
    assert len(single) == 1 and "förkortad" in single[0]
    _check_page(single[0])


def test_pack_pages_keeps_blocks_whole_and_under_the_limit():
    blocks = [f"<b>Block {n}</b>\n" + "\n".join(f"rad {k}" for k in range(n * 3))
              for n in range(1, 12)]
    pages = pack_pages("<b>Rubrik</b>", "<b>forts.</b>", blocks, "…", limit=120)
    for page in pages:
        assert len(page) <= 120
        parse_html(page)
    joined = "\n\n".join(pages)
    for block in blocks:
        if len(block) + len("<b>forts.</b>\n\n") <= 120:
            assert sum(block in page for page in pages) == 1
        else:
            assert block.split("\n")[0] in joined
    assert pages[0].startswith("<b>Rubrik</b>")
    assert pack_pages("H", "F", [], "…") == ["H"]
