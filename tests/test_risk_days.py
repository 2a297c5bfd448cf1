"""One rule for the known risk days (est.risk_days), whichever message shows them."""

from datetime import UTC, date, datetime
from types import SimpleNamespace

from est import planning
from est.config import default_config_path, load_config
from est.lagesbild import risk_days
from est.risk_days import known_risk_days

CONFIG = load_config(default_config_path())


def risk(name: str, day: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, day=day)


def holidays(days: dict[date, str]):
    return lambda year: {d: n for d, n in days.items() if d.year == year}


def test_a_date_from_two_sources_appears_once_with_each_name_once():
    public = holidays({date(2026, 12, 31): "Nyårsafton", date(2026, 10, 31): "Alla helgons dag"})
    days = known_risk_days(
        date(2026, 10, 1), date(2026, 12, 31),
        risk_dates=[risk("nyårsafton", "12-31"), risk("Halloween", "10-31"),
                    risk("Halloween", "10-31")],
        public_holidays=public)
    assert [(d.first, d.names, d.kind) for d in days] == [
        # Public holidays first, then the kommun's names; a name that is already there,
        # in any case, is not repeated and the first spelling is kept.
        (date(2026, 10, 31), ("Alla helgons dag", "Halloween"), "dag"),
        (date(2026, 12, 31), ("Nyårsafton",), "dag"),
    ]


def test_a_lov_is_never_merged_with_a_day():
    lov = SimpleNamespace(name="Jullov", start=date(2026, 12, 21), end=date(2027, 1, 8))
    days = known_risk_days(date(2026, 12, 20), date(2026, 12, 31),
                           risk_dates=[risk("Jullov", "12-21")], school_holidays=[lov],
                           public_holidays=lambda year: {})
    assert [(d.first, d.kind) for d in days] == [(date(2026, 12, 21), "lov"),
                                                 (date(2026, 12, 21), "dag")]


def test_the_lagesbild_and_the_planning_list_agree():
    """Lägesbild, digest and briefing (est.lagesbild.risk_days) and /handelse
    (est.planning.known_risk_days) list the same days with the same names."""
    now = datetime(2026, 12, 24, 12, tzinfo=UTC)
    shaped = risk_days(CONFIG, now)
    planned = planning.known_risk_days(date(2026, 12, 24), date(2027, 1, 7),
                                       risk_dates=CONFIG.risk_dates,
                                       school_holidays=CONFIG.school_holidays)
    assert [r.name for r in shaped] == [", ".join(d.names) for d in planned]
    assert [r.name for r in shaped].count("Nyårsafton") == 1


def test_the_lagesbild_merges_names_regardless_of_case():
    config = CONFIG.model_copy(update={"risk_dates": [risk("nyårsafton", "12-31")]})
    names = [r.name for r in risk_days(config, datetime(2026, 12, 24, 12, tzinfo=UTC))]
    assert "Nyårsafton" in names and not any("nyårsafton" in n for n in names)


def test_halloween_and_alla_helgons_dag_share_one_line_in_the_lagesbild():
    days = risk_days(CONFIG, datetime(2026, 10, 20, 12, tzinfo=UTC))
    on_31st = [r for r in days if r.moment.date() == date(2026, 10, 31)]
    assert [r.name for r in on_31st] == ["Alla helgons dag, Halloween"]
