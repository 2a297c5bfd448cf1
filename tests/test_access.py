"""Who gets what: invitations, roles, groups, and a member's own settings."""

from sqlmodel import select

from storage.models import Group, Invite, Member
from tests.conftest import invite_token, make_admin, registered


async def members(bot) -> list[Member]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Member))).all())


async def test_admin_invites_with_buttons_and_the_link_registers(bot):
    await make_admin(bot, 3001)
    admin = bot.person(3001, "Karin")
    await admin.send("/inbjudan")
    await admin.click("Samordnare")
    created = await admin.click("Polisen, lokalpolisområde Örebro")
    text = created["text"]
    assert "https://t.me/lagesbild_test_bot?start=" in text
    token = text.split("?start=")[1].split()[0]
    assert len(token) >= 22 and f"/start {token}" in text  # ≥128 bits, raw line offered

    newcomer = bot.person(3002, "Per")
    welcome = await newcomer.send(f"/start {token}")
    assert "samordnare för Polisen" in welcome["text"]
    async with bot.services.db.session() as session:
        invite = (await session.exec(select(Invite))).one()
    assert invite.token_hash != token and invite.used_at is not None

    # Single use: a second person with the same token is refused.
    other = bot.person(3003, "Lisa")
    reply = await other.send(f"/start {token}")
    assert "redan använd" in reply["text"]
    assert {m.telegram_user_id for m in await members(bot)} == {3001, 3002}


async def test_expired_and_unknown_invites(bot, clock):
    token = await invite_token(bot)
    clock.advance(hours=73)
    late = bot.person(3010, "Sen")
    assert "gått ut" in (await late.send(f"/start {token}"))["text"]
    assert "känns inte igen" in (await late.send("/start nonsense"))["text"]
    assert await members(bot) == []


async def test_reporter_cannot_invite(bot):
    anna = await registered(bot, 3020)
    reply = await anna.send("/inbjudan")
    assert "administratör" in reply["text"]
    async with bot.services.db.session() as session:
        assert (await session.exec(select(Invite))).all()[0].used_at is not None


async def test_group_registration_by_admin_only(bot, fake):
    await make_admin(bot, 3030)
    admin = bot.person(3030, "Karin")
    await admin.send("/start")
    anna = await registered(bot, 3031)

    fake.create_group(-4001, "Samordning Örebro")
    fake.add_bot_to_group(-4001, 3031)  # a reporter adds the bot: it leaves
    await bot.settle()
    assert -4001 in fake.left_chats

    fake.create_group(-4002, "Samordnare EST")
    fake.add_bot_to_group(-4002, 3030)
    await bot.settle()
    assert "/registrera_grupp" in fake.last_bot_message(-4002)["text"]
    fake.send_text(3031, "/registrera_grupp", chat_id=-4002)  # not an admin: silence
    await bot.settle()
    fake.send_text(3030, "/registrera_grupp@lagesbild_test_bot", chat_id=-4002)
    await bot.settle()
    assert "registrerad som samordningsgrupp" in fake.last_bot_message(-4002)["text"]
    async with bot.services.db.session() as session:
        groups = (await session.exec(select(Group))).all()
    assert [(g.chat_id, g.kind) for g in groups] == [(-4002, "coordinator")]
    assert anna is not None

    fake.migrate_group(-4002, -1001234567890)
    await bot.settle()
    async with bot.services.db.session() as session:
        assert (await session.exec(select(Group.chat_id))).all() == [-1001234567890]


async def test_unregistered_group_gets_silence(bot, fake):
    await make_admin(bot, 3040)
    fake.user(3040, "Karin")
    fake.user(3041, "Per")
    fake.create_group(-4003, "Okänd grupp")
    fake.add_bot_to_group(-4003, 3040)
    await bot.settle()
    before = fake.sent_count(-4003)
    fake.send_text(3041, "/hjalp", chat_id=-4003)
    fake.send_text(3041, "/rapport", chat_id=-4003)
    await bot.settle()
    assert fake.sent_count(-4003) == before


async def test_pause_resume_my_data_and_help(bot):
    anna = await registered(bot, 3050)
    assert "Pausat" in (await anna.send("/paus"))["text"]
    assert [m.paused for m in await members(bot)] == [True]
    help_text = (await anna.send("/hjalp"))["text"]
    assert "pausade" in help_text and "/rapport" in help_text and "/inbjudan" not in help_text
    assert "Välkommen tillbaka" in (await anna.send("/aterkom"))["text"]
    data = (await anna.send("/mina_uppgifter"))["text"]
    assert "3050" in data and "Nattvandrarna Örebro" in data and "Rapporter: 0" in data


async def test_command_menu_is_published(bot):
    from bot.core.commands_menu import publish_commands

    await publish_commands(bot.application)
    calls = [p for m, p in bot.fake.calls if m == "setMyCommands"]
    private = [c for c in calls if c["scope"]["type"] == "all_private_chats"][-1]
    commands = [c["command"] for c in private["commands"]]
    assert {"rapport", "lugnt", "mina_rapporter", "hjalp"} <= set(commands)
    assert "niva" not in commands  # reporters do not see coordinators' commands


async def test_coordinator_gets_a_menu_of_their_own(bot):
    await registered(bot, 3070, role="coordinator", org_key="polisen")
    calls = [p for m, p in bot.fake.calls if m == "setMyCommands"]
    mine = [c for c in calls if c["scope"]["type"] == "chat" and c["scope"]["chat_id"] == 3070]
    assert "niva" in [c["command"] for c in mine[-1]["commands"]]


async def test_blocked_reporter_is_marked_inactive_and_back_when_writing(bot, fake):
    anna = await registered(bot, 3060)
    fake.block_bot(3060)
    fake.inject("sendMessage", "403", chat_id=3060)
    fake.send_text(3060, "/hjalp")
    await bot.settle()
    assert [m.active for m in await members(bot)] == [False]
    await anna.send("/hjalp")
    assert [m.active for m in await members(bot)] == [True]


async def test_unknown_command_gets_a_pointer_to_help(bot):
    anna = await registered(bot, 3080)
    assert "/hjalp" in (await anna.send("/finnsinte"))["text"]
