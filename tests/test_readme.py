"""The README stays true: its walkthrough runs, its settings table is complete."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require
from flask import Config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title):
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
def test_walkthrough_runs_as_written(live_server):
    require(shutil.which("curl") is not None, "curl (Debian's curl)")
    script = re.search(r"```sh\n(.*?)```", section("Walkthrough"), re.S).group(1)
    assert "IDM=http://127.0.0.1:9096" in script
    script = script.replace("IDM=http://127.0.0.1:9096", f"IDM={live_server.url}")

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    status, created, me = done.stdout.splitlines()
    assert status == "201"
    assert json.loads(created)["data"]["username"] == "alice@example.org"
    assert json.loads(me)["data"]["username"] == "alice@example.org"
    assert json.loads(me)["data"]["admin"] is False


def test_settings_table_lists_every_setting_once_and_nothing_else():
    defaults = Config(str(ROOT))
    defaults.from_pyfile("defaults.py")
    rows = [line for line in section("Configuration").splitlines() if line.startswith("| `")]
    named = [name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])]
    assert sorted(set(defaults) - set(named)) == [], "settings missing from the README table"
    assert sorted(set(named) - set(defaults)) == [], "README rows for settings that do not exist"
    assert sorted(name for name in set(named) if named.count(name) > 1) == [], "listed twice"
