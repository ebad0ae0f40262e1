"""README's "Running a study" stays true: its walkthrough runs as written against gunicorn."""

import json
import re
import shutil
import subprocess

import pytest
from conftest import LiveServer, require
from study_helpers import LINK_SECRET
from test_readme import section

pytestmark = pytest.mark.slow
# The admin of README's first walkthrough, which this one starts from.
README_ADMIN = ("admin@example.org", "correct horse battery")


@pytest.fixture
def server(tmp_path, database_uri):
    live = LiveServer(
        tmp_path, database_uri=database_uri, settings=f"IDM_LINK_SECRET = {LINK_SECRET!r}\n"
    )
    yield live
    live.stop()


def test_running_a_study_runs_as_written(server):
    require(shutil.which("curl") is not None, "curl (Debian's curl)")
    server.init_admin(*README_ADMIN)
    blocks = re.findall(r"```sh\n(.*?)```", section("Running a study"), re.S)
    script = next(block for block in blocks if "IDM=http://127.0.0.1:9096" in block)
    script = script.replace("IDM=http://127.0.0.1:9096", f"IDM={server.url}")

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    staff, created, consented, established, enrolled, log = done.stdout.splitlines()
    assert (staff, established) == ("201", "204")
    assert json.loads(created)["data"]["sssid"] == "S-0042"
    assert json.loads(consented)["data"]["date_consented"] == "2026-11-24T16:40:00+00:00"
    assert [s["sssid"] for s in json.loads(enrolled)["data"]] == ["S-0042"]
    actions = [(row["actor"], row["action"]) for row in json.loads(log)["data"]]
    assert actions == [
        ("nurse@example.org", "create"),
        ("nurse@example.org", "consented: 2026-11-24T16:40:00+00:00"),
        ("nurse@example.org", "[Link] create"),
        (None, "[Link] link to 2a0ab8f6-1c5e-4f41-9d0e-7c3f5b7a8e11"),
    ]
