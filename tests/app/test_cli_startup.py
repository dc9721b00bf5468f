"""`presence COMMAND` imports only that command's module: what every command registers, and what `report` loads.

A report is the command analysts run all day; before the command table in app.cli it imported every command at
start-up (the dashboard's charts through weekly-report, the receiver through serve and import), about half a second
and 40 MiB of each run on a busy shop's week.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.cli import COMMAND_MODULES, build_parser, command_module, main

# Imported by no part of `presence report`: the dashboard, its charts, the receiver, the simulator, the zone fit.
NOT_FOR_A_REPORT = ("altair", "streamlit", "flask", "gunicorn", "receiver", "simulator", "sklearn", "app.dashboard")


def _subcommand_names(parser) -> list[str]:
    (action,) = [action for action in parser._actions if action.dest == "command"]
    return list(action.choices)


def test_the_command_table_names_what_each_module_registers():
    """Every module registers exactly the command the table gives it, and the full parser lists them in order."""
    for name in COMMAND_MODULES:
        assert _subcommand_names(build_parser(name)) == [name]
    assert _subcommand_names(build_parser()) == list(COMMAND_MODULES)
    for name in COMMAND_MODULES:
        assert command_module(name).__name__ == f"app.commands.{COMMAND_MODULES[name]}"


def test_a_report_imports_none_of_the_other_commands(tmp_path):
    """Run `presence report` on an empty database in a fresh interpreter and look at what it imported."""
    probe = (
        "import json, sys, contextlib, io\n"
        "from app.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['report', '--from', '2026-11-02', '--to', '2026-11-08', '--format', 'json'])\n"
        "print(json.dumps({'code': code, 'visitors': json.loads(out.getvalue())['visitors'],\n"
        "                  'modules': sorted(sys.modules)}))\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("PRESENCE_")}
    env.update({"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_PSEUDONYM_KEY": "startup-test"})
    completed = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.splitlines()[-1])
    assert (result["code"], result["visitors"]) == (0, 0)
    loaded = [
        module
        for module in result["modules"]
        if any(module == name or module.startswith(f"{name}.") for name in NOT_FOR_A_REPORT)
    ]
    assert loaded == []


def test_help_and_an_unknown_command_still_list_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["no-such-command"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'no-such-command'" in error
    for name in COMMAND_MODULES:
        assert f"'{name}'" in error
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    for name in COMMAND_MODULES:
        assert name in listing
