"""``lagesbild --help`` starts fast: it loads no database, Telegram or export code.

Checked by what gets imported (in a fresh interpreter), not by timing it. The subcommands
that live in their own modules are listed from bot.cli.main.SUBCOMMAND_MODULES until one
of them runs; their help texts there must be the ones the modules register.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "sqlmodel", "telegram", "alembic", "openpyxl", "matplotlib", "jinja2",
         "pydantic", "est.config", "storage")

PROBE = """
import contextlib, io, json, sys
from bot.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps({"modules": sorted(sys.modules), "help": out.getvalue()}))
"""


def run_probe(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_help_imports_nothing_heavy_and_lists_every_command():
    probe = run_probe("--help")
    loaded = [m for m in probe["modules"] if m.split(".")[0] in HEAVY or m in HEAVY
              or m.startswith(HEAVY)]
    assert loaded == []
    for command in cli.COMMANDS:
        assert command in probe["help"]


def test_a_subcommands_own_help_loads_its_module():
    probe = run_probe("preview", "--help")
    assert "bot.cli.preview" in probe["modules"]
    assert "--date" in probe["help"]


def _registered_helps(module: str, adder: str) -> dict[str, str]:
    sub = argparse.ArgumentParser().add_subparsers()
    getattr(importlib.import_module(module), adder)(sub)
    return {action.dest: action.help for action in sub._choices_actions}


@pytest.mark.parametrize("module", sorted(cli.SUBCOMMAND_MODULES))
def test_the_listed_help_is_the_modules_own(module):
    adder, helps = cli.SUBCOMMAND_MODULES[module]
    assert _registered_helps(module, adder) == helps
    for command in helps:
        assert isinstance(cli.COMMANDS[command], str)
        assert cli.COMMANDS[command].startswith(module + ":")
