from datetime import time
from pathlib import Path

import pytest

from est.config import (
    ConfigError,
    DeploymentConfig,
    default_config_path,
    load_config,
    parse_clock,
    parse_config,
    parse_weekly,
)

# Smallest valid config; tests append or replace parts of it to provoke one error at a time.
AREAS = """
[[areas]]
key = "vivalla"
name = "Vivalla"

[[areas]]
key = "oxhagen"
name = "Oxhagen"

[[areas]]
key = "varberga"
name = "Varberga"

[[areas.places]]
key = "var_torg"
name = "Varberga torg"
lat = 59.2722
lon = 15.2618
"""

ORGS = """
[[organisations]]
key = "natt"
name = "Nattvandrarna"
kind = "nattvandrare"
areas = ["vivalla", "varberga"]
"""

CATEGORIES = """
[[categories]]
key = "lugnt"
label = "Lugnt – inget att rapportera"
weight = 0
calm = true

[[categories]]
key = "sten"
label = "Stenkastning"
weight = 4
visible_to = ["polis", "fältgrupp"]
"""

BASE = 'kommun = "Testkommun"\n' + AREAS + ORGS + CATEGORIES


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    return [str(issue) for issue in info.value.errors]


@pytest.fixture(scope="module")
def example() -> DeploymentConfig:
    return load_config(default_config_path())


def test_base_is_valid():
    cfg = parse_config(BASE)
    assert [a.key for a in cfg.areas] == ["vivalla", "oxhagen", "varberga"]
    assert cfg.timezone == "Europe/Stockholm"
    assert cfg.reporting.free_text_max == 500
    assert cfg.schedule.reminders == ["fri 23:30", "sat 23:30"]


def test_example_has_the_orebro_areas(example):
    assert example.kommun == "Örebro kommun"
    keys = {a.key for a in example.areas}
    assert {"vivalla", "baronbackarna", "oxhagen", "varberga", "brickebacken", "centrum"} <= keys
    for area in example.areas:
        assert 3 <= len(area.places) <= 5, area.key
        for place in area.places:
            assert 59.2 < place.lat < 59.32 and 15.1 < place.lon < 15.3, place.key
    stortorget = example.place("centrum", "cen_stortorget")
    assert stortorget is not None and stortorget.name == "Stortorget"


def test_example_has_the_orebro_organisations(example):
    kinds = {o.kind for o in example.organisations}
    assert {"nattvandrare", "fältgrupp", "väktare", "bostadsbolag", "polis", "kommun"} <= kinds
    assert "räddningstjänst" in kinds
    obo = example.organisation("obo")
    assert obo is not None and obo.kind == "bostadsbolag"
    assert obo.areas is not None and "centrum" not in obo.areas


def test_example_categories(example):
    calm = example.calm_category
    assert calm.label == "Lugnt – inget att rapportera" and calm.weight == 0
    positive = [c for c in example.categories if c.positive]
    assert len(positive) == 1 and positive[0].weight == 0
    urgent = {c.key for c in example.categories if c.urgent}
    assert {"hot_vald", "hinder_insats"} <= urgent
    for category in example.categories:
        assert len(category.label) <= 30, category.label
        assert 0 <= category.weight <= 5
    labels = " ".join(c.label.lower() for c in example.categories)
    for term in ("stenkastning", "bilbrand", "falsklarm", "skadegörelse", "pyroteknik"):
        assert term in labels


def test_categories_for_follows_visible_to_in_file_order(example):
    street = [c.key for c in example.categories_for("nattvandrare")]
    everything = [c.key for c in example.categories_for("fältgrupp")]
    assert "rekrytering" not in street and "rekrytering" in everything
    assert set(street) < set(everything)
    file_order = [c.key for c in example.categories]
    assert everything == [k for k in file_order if k in everything]
    assert street[0] == "lugnt"


def test_lookups(example):
    assert example.area("vivalla").name == "Vivalla"
    assert example.area("nope") is None
    assert example.place("vivalla", "cen_stortorget") is None
    assert example.place("nope", "viv_centrum") is None
    assert example.category("hot_vald").urgent
    assert example.organisation("nope") is None
    assert example.tz.key == "Europe/Stockholm"


def test_missing_place_name_points_at_element():
    text = BASE.replace('name = "Varberga torg"\n', "")
    assert issues(text) == ["areas[2].places[0].name: saknas"]


def test_error_text_is_multiline_swedish():
    text = BASE.replace('name = "Varberga torg"\n', "").replace('kommun = "Testkommun"', "")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "orebro.toml")
    assert str(info.value).splitlines() == [
        "Konfigurationen orebro.toml är ogiltig (2 fel):",
        "  kommun: saknas",
        "  areas[2].places[0].name: saknas",
    ]


def test_unknown_field():
    text = BASE.replace('key = "oxhagen"', 'key = "oxhagen"\nnamn = "Oxhagen"')
    assert issues(text) == ["areas[1].namn: okänt fält"]


@pytest.mark.parametrize("key", ["Vivalla", "viv alla", "vivälla", "a" * 25, ""])
def test_bad_key(key):
    text = BASE.replace('key = "vivalla"', f'key = "{key}"')
    assert issues(text) == ["areas[0].key: ogiltig nyckel: endast a-z, 0-9 och _ (högst 24 tecken)"]


def test_duplicate_area_key():
    text = BASE.replace('key = "oxhagen"', 'key = "vivalla"')
    assert issues(text) == ["areas[1].key: nyckeln 'vivalla' används redan i areas[0]"]


def test_place_keys_are_unique_across_areas():
    place = '[[areas.places]]\nkey = "var_torg"\nname = "Torget"\n'
    text = BASE.replace('name = "Oxhagen"\n', 'name = "Oxhagen"\n' + place)
    assert issues(text) == [
        "areas[2].places[0].key: nyckeln 'var_torg' används redan i areas[1].places[0]"
    ]


def test_unknown_area_reference():
    text = BASE.replace('areas = ["vivalla", "varberga"]', 'areas = ["vivalla", "vivala"]')
    assert issues(text) == [
        "organisations[0].areas[1]: okänt område 'vivala' (finns inte bland areas)"
    ]


def test_bad_timezone():
    text = BASE.replace('kommun = "Testkommun"', 'kommun = "T"\ntimezone = "Europe/Stokholm"')
    [issue] = issues(text)
    assert issue.startswith("timezone: okänd tidszon: Europe/Stokholm")


def test_lat_without_lon():
    text = BASE.replace("lon = 15.2618\n", "")
    assert issues(text) == ["areas[2].places[0]: ange både lat och lon, eller ingen av dem"]


def test_swapped_coordinates_are_out_of_range():
    text = BASE.replace("lat = 59.2722", "lat = 15.2618").replace("lon = 15.2618", "lon = 59.2722")
    assert issues(text) == [
        "areas[2].places[0].lat: måste vara minst 55",
        "areas[2].places[0].lon: får vara högst 24.5",
    ]


def test_toml_syntax_error_gives_line():
    text = BASE.replace('name = "Oxhagen"', "name = Oxhagen")
    line = BASE.splitlines().index('name = "Oxhagen"') + 1
    [issue] = issues(text)
    assert issue.startswith(f"rad {line}: TOML-syntaxfel: ")
    assert "citattecken" in issue


def test_no_calm_category():
    text = BASE.replace("calm = true\n", "")
    assert issues(text) == [
        "categories: en kategori måste ha calm = true (”Lugnt – inget att rapportera”)"
    ]


def test_two_calm_categories():
    text = BASE.replace("weight = 4\n", "weight = 4\ncalm = true\n")
    assert issues(text) == ["categories[1].calm: bara en kategori får ha calm = true"]


def test_calm_cannot_be_urgent():
    text = BASE.replace("calm = true\n", "calm = true\nurgent = true\n")
    assert issues(text) == [
        "categories[0]: en calm-kategori kan inte också vara urgent eller positive"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("weight = 4", 'weight = "4"', "categories[1].weight: ska vara ett tal"),
        ("weight = 4", "weight = -1", "categories[1].weight: måste vara minst 0"),
        ("weight = 4", "weight = nan", "categories[1].weight: ska vara ett ändligt tal"),
        (
            "calm = true",
            'calm = "ja"',
            "categories[0].calm: ska vara sant eller falskt (true/false)",
        ),
        ('name = "Oxhagen"', "name = 3", "areas[1].name: ska vara text"),
        ('name = "Oxhagen"', 'name = "  "', "areas[1].name: får inte vara tom"),
        (
            'kind = "nattvandrare"',
            'kind = "nattvandrarna"',
            "organisations[0].kind: måste vara en av: nattvandrare, fältgrupp, väktare, "
            "bostadsbolag, räddningstjänst, polis, kommun, annan",
        ),
        (
            'visible_to = ["polis", "fältgrupp"]',
            'visible_to = ["polis", "brandkår"]',
            "categories[1].visible_to[1]: måste vara en av: nattvandrare, fältgrupp, väktare, "
            "bostadsbolag, räddningstjänst, polis, kommun, annan",
        ),
        (
            'label = "Stenkastning"',
            'label = "Stenkastning mot polis och räddningstjänst i området"',
            "categories[1].label: får vara högst 40 tecken",
        ),
        (
            'areas = ["vivalla", "varberga"]',
            "areas = []",
            "organisations[0].areas: måste ha minst 1",
        ),
    ],
)
def test_type_errors_in_swedish(old, new, expected):
    assert old in BASE
    assert issues(BASE.replace(old, new, 1)) == [expected]


def test_empty_lists_are_refused():
    text = 'kommun = "T"\nareas = []\norganisations = []\n' + CATEGORIES
    assert issues(text) == ["areas: måste ha minst 1", "organisations: måste ha minst 1"]


def test_table_instead_of_array_of_tables():
    text = BASE.replace("[[organisations]]", "[organisations]")
    [issue] = issues(text)
    assert issue.startswith("organisations: ska vara en lista")


def test_schedule_parsing_and_turning_off():
    cfg = parse_config(
        BASE
        + '[schedule]\nlagesbild_daily = ""\nfriday_briefing = "18:30"\n'
        + 'reminders = ["Thu  21:00"]\n'
    )
    assert cfg.schedule.lagesbild_daily is None
    assert cfg.schedule.thursday_digest == "08:00"
    assert cfg.schedule.friday_briefing == "18:30"
    assert cfg.schedule.reminders == ["thu 21:00"]


@pytest.mark.parametrize(
    ("setting", "path"),
    [
        ('friday_briefing = "25:00"', "schedule.friday_briefing"),
        ('friday_briefing = "7:5"', "schedule.friday_briefing"),
        ('reminders = ["fre 23:30"]', "schedule.reminders[0]"),
        ('reminders = ["fri 24:00"]', "schedule.reminders[0]"),
        ("grace_minutes = -5", "schedule.grace_minutes"),
    ],
)
def test_bad_schedule(setting, path):
    [issue] = issues(BASE + "[schedule]\n" + setting + "\n")
    assert issue.startswith(f"{path}: ")


def test_parse_helpers():
    assert parse_clock("07:05") == time(7, 5)
    assert parse_weekly("sun 00:15") == (6, time(0, 15))
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("24:00")


def test_several_problems_are_reported_at_once():
    text = BASE.replace('key = "vivalla"', 'key = "V"').replace("weight = 4", "weight = -4")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.toml")
    assert [i.path for i in info.value.errors] == ["areas[0].key", "categories[1].weight"]
    assert str(info.value).startswith("Konfigurationen x.toml är ogiltig (2 fel):")


def test_missing_file(tmp_path: Path):
    path = tmp_path / "saknas.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"Konfigurationen {path} är ogiltig (1 fel):\n  (fil): filen finns inte"
    )


def test_load_config_accepts_bom(tmp_path: Path):
    path = tmp_path / "kommun.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_config(path).kommun == "Testkommun"


def test_load_config_names_the_file_in_errors(tmp_path: Path):
    path = tmp_path / "trasig.toml"
    path.write_text(BASE.replace("calm = true\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert str(path) in str(info.value).splitlines()[0]
