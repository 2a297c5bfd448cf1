"""The rules of an /agenda item (est.agenda)."""

from est.agenda import TEXT_MAX, check_item_text, point_of
from est.digest import AGENDA_KINDS


def test_every_kind_belongs_to_its_point_and_nothing_else_does():
    assert {kind: point_of(kind).number for kind in AGENDA_KINDS} == {
        "beslut": 5, "samordning": 6, "informera": 7}
    for text in ("", "bogus", "BESLUT", "5"):
        assert point_of(text) is None


def test_an_item_is_kept_on_one_line():
    checked = check_item_text("  Förstärkning med\n fältare   i helgen ")
    assert checked.ok and checked.text == "Förstärkning med fältare i helgen"


def test_an_item_is_at_most_300_characters():
    assert TEXT_MAX == 300
    assert check_item_text("a" * 300).ok
    assert not check_item_text("a" * 301).ok


def test_a_personnummer_is_refused_and_a_phone_number_masked():
    refused = check_item_text("Ring 19811218-9876")
    assert not refused.ok and "personnummer" in refused.problem
    masked = check_item_text("Samordna med skolan, ring 070-123 45 67")
    assert masked.text == "Samordna med skolan, ring [telefonnummer borttaget]"
    assert "telefonnummer" in masked.notice
