"""The /handelse and /insats lists stay within Telegram's limit, however long the texts.

Telegram counts a message in UTF-16 code units, so an emoji is two. Texts at their
maximum length, full of emoji, used to make both lists "Message is too long" for
every coordinator at once; now they are paged.
"""

import re
from datetime import timedelta

from bot.dialogs.paging import MESSAGE_LIMIT, utf16_len
from messages import labels
from storage.models import Event, Insats
from tests.conftest import registered

EMOJI = "🚨🔥"


def long_text(label: str, length: int) -> str:
    """``label`` and emoji up to ``length`` characters (Python's count, as stored)."""
    return label + EMOJI * ((length - len(label)) // len(EMOJI))


async def seed(bot, events: int = 15, insatser: int = 12) -> None:
    """Registered after member 1 (the first coordinator), who is their author."""
    now = bot.clock()
    async with bot.services.db.session() as session:
        for n in range(events):
            session.add(Event(area_key="brickebacken", starts_at=now + timedelta(days=1, hours=n),
                              title=long_text(f"Händelse {n + 1:02d} ", 200),
                              created_by_member_id=1, created_at=now))
        for n in range(insatser):
            session.add(Insats(area_key="brickebacken", place_name=long_text("Plats ", 80),
                               what=long_text(f"Insats {n + 1:02d} ", 300),
                               org_key="raddningstjansten", starts_at=now,
                               ends_at=now + timedelta(days=50), created_by_member_id=1,
                               created_at=now))
        await session.commit()


async def each_page(person, first, check) -> int:
    """Call ``check(page, number)`` on the list's pages, following "Nästa"; how many."""
    page, number = first, 1
    while True:
        # The list is one message, edited in place: look at each page while it is shown.
        check(page, number)
        if labels.NEXT_PAGE not in person.buttons(page):
            return number
        page, number = await person.click(labels.NEXT_PAGE, page), number + 1
        assert number < 20


def page_line(text: str) -> tuple[int, int]:
    number, count = re.search(r"Sida (\d+) av (\d+)", text).groups()
    return int(number), int(count)


async def test_a_long_event_list_is_paged_within_telegram_s_limit(bot):
    karin = await registered(bot, 2001, "Karin", role="coordinator")
    await seed(bot)
    first = await karin.send("/handelse")
    assert "Kommande händelser" in first["text"]
    seen = []

    def check(page, number):
        assert utf16_len(page["text"]) <= MESSAGE_LIMIT
        assert page_line(page["text"])[0] == number
        assert "Kända riskdagar" in page["text"] and "Julafton" in page["text"]
        assert "➕ Ny händelse" in karin.buttons(page)
        seen.extend(re.findall(r"Händelse (\d\d)", page["text"]))

    pages = await each_page(karin, first, check)
    assert pages > 1 and page_line(karin.last["text"]) == (pages, pages)
    assert seen == [f"{n:02d}" for n in range(1, 16)]  # each once, in order
    # Back a page; the list still works for a new event.
    again = await karin.click(labels.PREVIOUS_PAGE, karin.last)
    assert page_line(again["text"]) == (pages - 1, pages)
    step = await karin.click("➕ Ny händelse", again)
    assert "Ny händelse 1/4" in step["text"]
    assert bot.fake.unanswered_callback_queries() == []


async def test_a_long_insats_list_is_paged_with_the_status_buttons_of_its_page(bot):
    # Of the organisation responsible for the insatser: she may change their status.
    karin = await registered(bot, 2001, "Karin", role="coordinator", org_key="raddningstjansten")
    await seed(bot)
    first = await karin.send("/insats")
    assert "Planerade och pågående insatser" in first["text"]
    seen = []

    def check(page, number):
        assert utf16_len(page["text"]) <= MESSAGE_LIMIT
        assert page_line(page["text"])[0] == number
        shown = re.findall(r"^#(\d+) ", page["text"], re.MULTILINE)
        buttons = karin.buttons(page)
        # Exactly the insatser on this page have their status buttons here.
        assert [b for b in buttons if "#" in b] == [
            label for i in shown for label in (f"✔ Klar #{i}", f"✖ Ställ in #{i}")]
        assert "➕ Ny insats" in buttons
        seen.extend(shown)

    pages = await each_page(karin, first, check)
    assert pages > 1
    assert seen == [str(n) for n in range(1, 13)]

    # A status change on the second page stays on that page, and still fits.
    await karin.send("/insats")
    second = await karin.click(labels.NEXT_PAGE)
    target = re.findall(r"#(\d+)", second["text"])[0]
    after = await karin.click(f"✔ Klar #{target}", second)
    assert f"Insats #{target}: Avslutad." in after["text"]
    assert page_line(after["text"])[0] == 2 and utf16_len(after["text"]) <= MESSAGE_LIMIT
    listed = re.findall(r"^#(\d+) ", after["text"], re.MULTILINE)
    assert listed and target not in listed  # done: no longer planned or running
    # "Ställ in" is asked first; afterwards the list is shown again.
    other = listed[0]
    asked = await karin.click(f"✖ Ställ in #{other}", after)
    assert f"Ställa in insats #{other}" in asked["text"]
    done = await karin.click("Ja, ställ in", asked)
    assert f"Insats #{other}: Inställd." in done["text"]
    assert "Planerade och pågående insatser" in done["text"]
    assert utf16_len(done["text"]) <= MESSAGE_LIMIT


async def test_long_lists_do_not_stop_other_coordinators(bot):
    karin = await registered(bot, 2001, "Karin", role="coordinator")
    await seed(bot)
    per = await registered(bot, 2002, "Per", role="coordinator", org_key="polisen")
    for person in (karin, per):
        assert "Kommande händelser" in (await person.send("/handelse"))["text"]
        assert "Planerade och pågående" in (await person.send("/insats"))["text"]
    step = await per.click("➕ Ny insats")
    assert "Ny insats 1/6" in step["text"]
