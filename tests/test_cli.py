"""The ``lagesbild`` command line: config checks, first admin, invitations."""

import asyncio
import hashlib

import pytest
from sqlmodel import select

from bot.cli.main import main
from storage.db import Database
from storage.models import Invite, Member


@pytest.fixture
def env(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return database_url


def rows(database_url, model):
    async def load():
        db = Database(database_url)
        try:
            async with db.session() as session:
                return list((await session.exec(select(model))).all())
        finally:
            await db.dispose()

    return asyncio.run(load())


def test_check_config_accepts_the_bundled_example(env, capsys):
    assert main(["check-config"]) == 0
    assert "är giltig: Örebro" in capsys.readouterr().out


def test_check_config_explains_errors_with_their_place(env, tmp_path, capsys):
    broken = tmp_path / "broken.toml"
    broken.write_text('kommun = "X"\n[[areas]]\nkey = "a"\n[[areas.places]]\nkey = "p"\n',
                      encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", str(broken)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "areas[0].places[0].name: saknas" in err and "areas[0].name: saknas" in err


def test_run_refuses_to_start_without_token_or_with_invalid_config(env, tmp_path, capsys,
                                                                   monkeypatch):
    assert main(["run"]) == 2
    assert "BOT_TOKEN saknas" in capsys.readouterr().err
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    bad = tmp_path / "bad.toml"
    bad.write_text("kommun = 3\n", encoding="utf-8")
    monkeypatch.setenv("LAGESBILD_CONFIG", str(bad))
    with pytest.raises(SystemExit):
        main(["run"])
    assert "kommun: ska vara text" in capsys.readouterr().err


def test_admin_add_and_invite(env, capsys):
    assert main(["admin", "add", "424242", "--org", "kommunen"]) == 0
    [member] = rows(env, Member)
    assert (member.telegram_user_id, member.role, member.org_key) == (424242, "admin", "kommunen")

    capsys.readouterr()
    assert main(["invite", "--role", "reporter", "--org", "nattvandrarna", "--hours", "2",
                 "--bot-username", "orebro_lagesbild_bot"]) == 0
    line, link = capsys.readouterr().out.splitlines()
    token = line.removeprefix("/start ")
    assert link == f"https://t.me/orebro_lagesbild_bot?start={token}"
    assert len(token) >= 43 and len(token) <= 64  # 256 bits; fits a deep link
    [invite] = rows(env, Invite)
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (invite.expires_at - invite.created_at).total_seconds() == 2 * 3600


def test_invite_for_unknown_organisation_is_refused(env, capsys):
    assert main(["invite", "--role", "reporter", "--org", "nope"]) == 2
    assert "Okänd organisation: nope" in capsys.readouterr().err
    assert rows(env, Invite) == []
