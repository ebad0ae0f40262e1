"""create_users.py as its users run it: at a terminal, in scripts, and when things go wrong.

Each test runs the real script in a child process against the real service
under gunicorn (the ``live_server`` fixture), then checks through the HTTP API
what the script did. Tests that need no service run without one.
"""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import free_port, http_json

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "create_users.py")
ADMIN = ("boss@example.org", "the boss's long password")
STRONG = "correct horse battery staple"

# Exit statuses documented in create_users.py --help.
EXIT_LOGIN_FAILED = 4
EXIT_NOT_ADMIN = 5
EXIT_INVALID = 6
EXIT_TAKEN = 7


def clean_env(**extra):
    """The test's environment without passwords that would skip the prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDM_")}
    env.update(extra)
    return env


def run_script(*args, env=None, stdin=""):
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        cwd=ROOT,
        env=env or clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def api(url, method, path, body=None, token=None):
    """(status, JSON body) of one request to the service."""
    status, _, data = http_json(url + path, method, body, token)
    return status, data


def whoami(url, username, password):
    """The user as /user/me shows it, after logging in as that user."""
    status, body = api(url, "POST", "/auth", {"username": username, "password": password})
    assert status == 200, body
    assert body["access_token"]
    status, body = api(url, "GET", "/user/me", token=body["access_token"])
    assert status == 200, body
    return body["data"]


@pytest.fixture
def service(live_server):
    """The live service with its first admin, ADMIN."""
    live_server.init_admin(*ADMIN)
    return live_server


def scripted(service, username, *flags, admin_password=ADMIN[1], new_password=STRONG):
    """Run the script non-interactively with passwords in the environment."""
    env = clean_env(IDM_ADMIN_PASSWORD=admin_password, IDM_NEW_PASSWORD=new_password)
    args = ["--host", service.url, "--admin-user", ADMIN[0], "--username", username]
    return run_script(*args, *flags, env=env)


def spawn_interactive():
    child = pexpect.spawn(
        sys.executable,
        [SCRIPT],
        cwd=str(ROOT),
        env=clean_env(),
        encoding="utf-8",
        timeout=30,
        # A shell's background job ignores SIGINT and children inherit that,
        # so Ctrl-C would do nothing: give the script a normal terminal's.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    child.transcript = child.logfile_read = io.StringIO()  # all the script wrote
    return child


def log_in_interactively(child, url, password=ADMIN[1]):
    child.expect_exact("Host [http://localhost:9096]: ")
    child.sendline(url)
    child.expect_exact("Admin username: ")
    child.sendline(ADMIN[0])
    child.expect_exact("Admin password: ")
    child.sendline(password)


def answer_new_user(child, username, password, admin):
    child.expect_exact("New username: ")
    answer_new_user_after_username(child, username, password, admin)


def answer_new_user_after_username(child, username, password, admin=False):
    """Answer the questions for one user, the "New username: " prompt shown."""
    child.sendline(username)
    child.expect_exact("New password: ")
    child.sendline(password)
    child.expect_exact("Repeat new password: ")
    child.sendline(password)
    child.expect_exact("Admin? [y/N]: ")
    child.sendline("y" if admin else "")


def next_prompt(child, *prompts):
    """Which of *prompts* the script asks next (each is a whole prompt)."""
    return prompts[child.expect_exact(list(prompts))]


def finish(child):
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


@pytest.mark.slow
def test_interactive_session_creates_two_users(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url)

    answer_new_user(child, "Alice@Example.org", STRONG, admin=True)
    child.expect_exact("created alice@example.org (admin)")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("y")
    answer_new_user(child, "bob@example.org", STRONG + " 2", admin=False)
    child.expect_exact("created bob@example.org (not admin)")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0
    assert whoami(service.url, "alice@example.org", STRONG)["admin"] is True
    assert whoami(service.url, "bob@example.org", STRONG + " 2")["admin"] is False


@pytest.mark.slow
def test_interactive_password_is_not_echoed(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url)
    answer_new_user(child, "carol@example.org", STRONG, admin=False)
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0
    assert "created carol@example.org" in child.transcript.getvalue()
    assert STRONG not in child.transcript.getvalue()
    assert ADMIN[1] not in child.transcript.getvalue()


@pytest.mark.slow
def test_interactive_bad_username_is_asked_again_before_the_password(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url)
    child.expect_exact("New username: ")
    child.sendline("not-an-email")

    child.expect_exact("error: username must be an email address")
    assert next_prompt(child, "New username: ", "New password: ") == "New username: "
    child.sendline("mona@example.org")
    assert next_prompt(child, "New username: ", "New password: ") == "New password: "
    child.sendline(STRONG)
    child.expect_exact("Repeat new password: ")
    child.sendline(STRONG)
    child.expect_exact("Admin? [y/N]: ")
    child.sendline("")
    child.expect_exact("created mona@example.org (not admin)")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0
    assert whoami(service.url, "mona@example.org", STRONG)["admin"] is False


@pytest.mark.slow
def test_interactive_taken_username_is_asked_again_at_once(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url)
    child.expect_exact("New username: ")
    child.sendline(ADMIN[0].upper())

    child.expect_exact(f"error: username {ADMIN[0]} is already taken")
    assert next_prompt(child, "New username: ", "New password: ") == "New username: "
    answer_new_user_after_username(child, "nina@example.org", STRONG)
    child.expect_exact("created nina@example.org")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0


@pytest.mark.slow
def test_interactive_short_password_is_asked_again_at_once(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url)
    child.expect_exact("New username: ")
    child.sendline("olga@example.org")
    child.expect_exact("New password: ")
    child.sendline("short")

    child.expect_exact("error: password must be at least 8 characters")
    assert next_prompt(child, "New password: ", "Repeat new password: ") == "New password: "
    child.sendline(STRONG)
    assert next_prompt(child, "New password: ", "Repeat new password: ") == (
        "Repeat new password: "
    )
    child.sendline(STRONG)
    child.expect_exact("Admin? [y/N]: ")
    child.sendline("")
    child.expect_exact("created olga@example.org")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0
    assert whoami(service.url, "olga@example.org", STRONG)["admin"] is False
    assert "short" not in child.transcript.getvalue()


@pytest.mark.slow
def test_interactive_refusal_at_creation_is_reported_and_the_loop_goes_on(service):
    """A username taken between its check and the creation: reported, not fatal."""
    child = spawn_interactive()
    log_in_interactively(child, service.url)
    child.expect_exact("New username: ")
    child.sendline("paul@example.org")
    child.expect_exact("New password: ")
    assert scripted(service, "paul@example.org").returncode == 0  # someone else was quicker
    child.sendline(STRONG + " 2")
    child.expect_exact("Repeat new password: ")
    child.sendline(STRONG + " 2")
    child.expect_exact("Admin? [y/N]: ")
    child.sendline("y")

    child.expect_exact("cannot create paul@example.org: that username is already taken")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("y")
    answer_new_user(child, "dave@example.org", STRONG, admin=False)
    child.expect_exact("created dave@example.org")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == EXIT_TAKEN
    assert whoami(service.url, "paul@example.org", STRONG)["admin"] is False
    assert whoami(service.url, "dave@example.org", STRONG)["admin"] is False


@pytest.mark.slow
def test_interactive_mistyped_admin_password_is_asked_again(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url, password="not the boss's password")

    child.expect_exact("wrong admin username or password; please try again")
    child.expect_exact(f"Admin username [{ADMIN[0]}]: ")
    child.sendline("")  # the default: the username was right
    child.expect_exact("Admin password: ")
    child.sendline(ADMIN[1])
    answer_new_user(child, "quinn@example.org", STRONG, admin=False)
    child.expect_exact("created quinn@example.org")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0
    assert whoami(service.url, "quinn@example.org", STRONG)["admin"] is False


@pytest.mark.slow
def test_interactive_mistyped_admin_username_is_asked_again(service):
    child = spawn_interactive()
    child.expect_exact("Host [http://localhost:9096]: ")
    child.sendline(service.url)
    child.expect_exact("Admin username: ")
    child.sendline("bos@example.org")
    child.expect_exact("Admin password: ")
    child.sendline(ADMIN[1])

    child.expect_exact("wrong admin username or password; please try again")
    child.expect_exact("Admin username [bos@example.org]: ")
    child.sendline(ADMIN[0])
    child.expect_exact("Admin password: ")
    child.sendline(ADMIN[1])
    answer_new_user(child, "rita@example.org", STRONG, admin=False)
    child.expect_exact("created rita@example.org")
    child.expect_exact("Another? [y/N]: ")
    child.sendline("n")

    assert finish(child) == 0


@pytest.mark.slow
def test_interactive_admin_password_mistyped_three_times_exits(service):
    child = spawn_interactive()
    log_in_interactively(child, service.url, password="wrong 1")
    for attempt in (2, 3):
        child.expect_exact("wrong admin username or password; please try again")
        child.expect_exact(f"Admin username [{ADMIN[0]}]: ")
        child.sendline("")
        child.expect_exact("Admin password: ")
        child.sendline(f"wrong {attempt}")

    child.expect_exact("error: login failed: wrong admin username or password (3 attempts)")
    assert finish(child) == EXIT_LOGIN_FAILED
    assert child.transcript.getvalue().count("Admin password: ") == 3
    assert "New username: " not in child.transcript.getvalue()


@pytest.mark.slow
def test_scripted_run_with_passwords_in_the_environment(service):
    result = scripted(service, "erin@example.org", "--admin")

    assert result.returncode == 0, result.stderr
    assert "created erin@example.org (admin)" in result.stdout
    assert whoami(service.url, "erin@example.org", STRONG)["admin"] is True


@pytest.mark.slow
def test_passwords_from_stdin(service):
    args = ["--host", service.url, "--admin-user", ADMIN[0], "--username", "frank@example.org"]
    result = run_script(*args, "--passwords-stdin", stdin=f"{ADMIN[1]}\n{STRONG}\n")

    assert result.returncode == 0, result.stderr
    assert whoami(service.url, "frank@example.org", STRONG)["admin"] is False


@pytest.mark.slow
def test_wrong_admin_password_is_refused(service):
    result = scripted(service, "gina@example.org", admin_password="not the boss's password")

    assert result.returncode == EXIT_LOGIN_FAILED
    assert "login failed: wrong admin username or password" in result.stderr
    gina = {"username": "gina@example.org", "password": STRONG}
    assert api(service.url, "POST", "/auth", gina)[0] == 401


@pytest.mark.slow
def test_a_plain_user_is_told_it_is_not_an_admin(service):
    assert scripted(service, "plain@example.org").returncode == 0
    env = clean_env(IDM_ADMIN_PASSWORD=STRONG, IDM_NEW_PASSWORD=STRONG)
    args = ["--host", service.url, "--admin-user", "plain@example.org"]
    result = run_script(*args, "--username", "hank@example.org", env=env)

    assert result.returncode == EXIT_NOT_ADMIN
    assert "plain@example.org is not an admin" in result.stderr


@pytest.mark.slow
def test_taken_username_is_refused(service):
    assert scripted(service, "ivy@example.org").returncode == 0
    result = scripted(service, "IVY@example.org")

    assert result.returncode == EXIT_TAKEN
    assert "cannot create IVY@example.org: that username is already taken" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("username", "password"),
    [("not-an-email", STRONG), ("jack@example.org", "password123")],
    ids=["username not an email", "common password"],
)
def test_invalid_input_shows_the_service_message(service, username, password):
    result = scripted(service, username, new_password=password)

    assert result.returncode == EXIT_INVALID
    # The script passes on the service's own words, whatever they are.
    _, login = api(service.url, "POST", "/auth", {"username": ADMIN[0], "password": ADMIN[1]})
    new_user = {"username": username, "password": password}
    status, body = api(service.url, "POST", "/user", new_user, login["access_token"])
    assert status == 400
    assert f"cannot create {username}: {body['error']['message']}" in result.stderr


def test_connection_refused():
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = clean_env(IDM_ADMIN_PASSWORD=ADMIN[1], IDM_NEW_PASSWORD=STRONG)
    args = ["--host", host, "--admin-user", ADMIN[0], "--username", "kim@example.org"]
    result = run_script(*args, env=env)

    assert result.returncode != 0
    assert f"cannot reach the service at {host}: connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_password_in_a_script_is_a_usage_error():
    args = ["--admin-user", ADMIN[0], "--username", "lee@example.org"]
    result = run_script(*args)

    assert result.returncode == 2
    assert "set IDM_ADMIN_PASSWORD or use --passwords-stdin" in result.stderr


def test_help_describes_the_flags():
    result = run_script("--help")

    assert result.returncode == 0
    for flag in ("--host", "--admin-user", "--username", "--admin", "--passwords-stdin"):
        assert flag in result.stdout
    for variable in ("IDM_ADMIN_PASSWORD", "IDM_NEW_PASSWORD"):
        assert variable in result.stdout
    assert "exit status" in result.stdout


def test_ctrl_c_exits_quietly():
    child = spawn_interactive()
    child.expect_exact("Host [http://localhost:9096]: ")
    child.sendintr()

    assert finish(child) == 130
    assert "Traceback" not in child.transcript.getvalue()


def test_end_of_input_exits_quietly():
    result = run_script(stdin="")

    assert result.returncode == 1
    assert "input ended" in result.stderr
    assert "Traceback" not in result.stderr
