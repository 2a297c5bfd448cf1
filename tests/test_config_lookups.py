"""Key → name lookups and the problem-category rule, in one place (est.config)."""

import pytest

from est.config import default_config_path, load_config

CONFIG = load_config(default_config_path())


def test_names_of_known_keys():
    assert CONFIG.area_name("vivalla") == "Vivalla"
    assert CONFIG.place_name("vivalla", "viv_skola") == "Vivallaskolan"
    assert CONFIG.organisation_name("nattvandrarna") == "Nattvandrarna Örebro"
    assert CONFIG.category_label("skadegorelse") == "Skadegörelse"


def test_an_unknown_key_is_shown_as_itself():
    # Reports, levels and buttons can outlive a config change.
    assert CONFIG.area_name("atlantis") == "atlantis"
    assert CONFIG.organisation_name("nedlagd") == "nedlagd"
    assert CONFIG.category_label("borttagen") == "borttagen"
    assert CONFIG.place_name("vivalla", "riven") == "riven"
    assert CONFIG.place_name("atlantis", "viv_skola") == "viv_skola"  # the wrong area


def test_a_place_falls_back_to_the_typed_name_then_the_key():
    assert CONFIG.place_name("vivalla", "viv_skola", "skolan") == "Vivallaskolan"
    assert CONFIG.place_name("vivalla", None, "Parkeringen") == "Parkeringen"
    assert CONFIG.place_name("vivalla", "riven", "Gamla kiosken") == "Gamla kiosken"
    assert CONFIG.place_name("vivalla", "riven", "") == "riven"
    assert CONFIG.place_name("vivalla", None) is None


@pytest.mark.parametrize(("key", "problem"), [
    ("lugnt", False),  # calm
    ("positivt", False),  # positive
    ("skadegorelse", True),
    ("hot_vald", True),  # urgent is still a problem
])
def test_a_problem_is_neither_calm_nor_positive(key, problem):
    assert CONFIG.category(key).is_problem is problem


def test_problem_categories_of_the_config_and_of_a_report():
    everything = CONFIG.problem_categories()
    assert [c.key for c in everything] == [
        c.key for c in CONFIG.categories if c.key not in ("lugnt", "positivt")]
    # Of a report: known problem categories in the report's order, unknown keys skipped.
    keys = ["positivt", "stenkastning", "borttagen", "lugnt", "samling"]
    assert [c.key for c in CONFIG.problem_categories(keys)] == ["stenkastning", "samling"]
    assert CONFIG.problem_categories(["lugnt", "positivt"]) == []


def test_known_categories_skip_unknown_keys():
    assert [c.key for c in CONFIG.known_categories(["samling", "borttagen", "lugnt"])] == [
        "samling", "lugnt"]
