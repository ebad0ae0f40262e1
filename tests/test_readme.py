"""The README stays true: its walkthrough runs, its settings table is complete."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title):
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_walkthrough_runs_as_written(live_server):
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


def test_settings_table_lists_every_setting():
    defaults = Config(str(ROOT))
    defaults.from_pyfile("defaults.py")
    table = section("Configuration")
    missing = [key for key in defaults if f"`{key}`" not in table]
    assert missing == []
