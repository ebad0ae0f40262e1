"""Create users in a running IDM service, as an admin, over its HTTP API.

Interactive by default: asks for the service address, logs in as an admin
(``POST /auth``) and then creates users (``POST /user``) one after another.
Each new username and password is sent to the service as soon as it is typed
(``POST /user?dry_run=1``), so that one the service would refuse is asked
again at once, checked by the service's own rules; a wrong admin login is
asked again too, up to three attempts in all. With ``--username`` it creates
that one user without asking anything, taking passwords from the environment
or from stdin, so that it can run in scripts (and checks nothing in advance).

Only the standard library is used, so the script runs anywhere Python 3 does,
without the service's virtual environment. Run it with ``--help`` for usage.
"""

import argparse
import getpass
import http.client
import json
import os
import socket
import sys
import urllib.error
import urllib.request
from collections import namedtuple

DEFAULT_HOST = "http://localhost:9096"
ADMIN_PASSWORD_ENV = "IDM_ADMIN_PASSWORD"
NEW_PASSWORD_ENV = "IDM_NEW_PASSWORD"
TIMEOUT = 30  # seconds to wait for the service on each request
LOGIN_ATTEMPTS = 3  # interactive: admin logins tried before giving up

EXIT_OK = 0
EXIT_INPUT_ENDED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_LOGIN_FAILED = 4
EXIT_NOT_ADMIN = 5
EXIT_INVALID = 6
EXIT_TAKEN = 7
EXIT_THROTTLED = 8
EXIT_SERVICE_ERROR = 9
EXIT_INTERRUPTED = 130

DESCRIPTION = f"""\
Create users in a running IDM service, as an admin, over its HTTP API.

Without --username it asks for the service address, the admin's username and
password, then for new users one after another. The service checks each new
username and password as soon as it is typed, and one it refuses is asked
again; so is a wrong admin login, up to {LOGIN_ATTEMPTS} attempts in all. With --username
it creates that one user without asking (passwords from the environment or
stdin).
"""

EPILOG = f"""\
passwords:
  The admin password comes from ${ADMIN_PASSWORD_ENV}, the new user's from
  ${NEW_PASSWORD_ENV}; with --passwords-stdin from the first and second line
  of stdin instead. Whatever is not given is asked for (hidden) at a terminal.
  Passwords are never accepted as flags: other users could read them in ps.

examples:
  %(prog)s
      ask for everything, then create users until you answer "Another?" with n
  {ADMIN_PASSWORD_ENV}=... {NEW_PASSWORD_ENV}=... %(prog)s --host https://idm.example.org \\
      --admin-user admin@example.org --username alice@example.org --admin
  printf '%%s\\n%%s\\n' "$ADMIN_PW" "$NEW_PW" | %(prog)s --passwords-stdin \\
      --admin-user admin@example.org --username bob@example.org

exit status:
  {EXIT_OK}    success (interactive: every attempted creation succeeded)
  {EXIT_INPUT_ENDED}    input ended (EOF) before all answers were given
  {EXIT_USAGE}    wrong usage, or a password is missing
  {EXIT_UNREACHABLE}    cannot reach the service (connection refused, unknown host, ...)
  {EXIT_LOGIN_FAILED}    login failed: wrong admin username or password
       (interactive: after {LOGIN_ATTEMPTS} attempts)
  {EXIT_NOT_ADMIN}    the login is not an admin
  {EXIT_INVALID}    the service refused the new user's username or password (400)
  {EXIT_TAKEN}    the username is already taken (409)
  {EXIT_THROTTLED}    too many attempts; the service asks to wait (429)
  {EXIT_SERVICE_ERROR}    any other unexpected answer from the service
  {EXIT_INTERRUPTED}  interrupted with Ctrl-C
In interactive mode a refused username or password is asked again at once.
Should the creation still be refused (status {EXIT_INVALID} or {EXIT_TAKEN}: someone took the
username meanwhile, say), that is reported and the loop goes on; the exit
status is then that of the last refusal.
"""

Answer = namedtuple("Answer", "status body headers")


class Failure(Exception):
    """A failure to report in one line, with the exit status it stands for."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects become errors: urllib would silently turn a POST into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Service:
    """The IDM service at one address, as seen by a logged-in admin."""

    def __init__(self, host):
        self.host = host
        self.token = None
        self.credentials = None
        self.opener = urllib.request.build_opener(RefuseRedirects)

    def call(self, method, path, body=None):
        # normalize_host() admitted only http:// and https:// addresses.
        request = urllib.request.Request(self.host + path, method=method)  # noqa: S310
        request.add_header("Accept", "application/json")
        if body is not None:
            request.data = json.dumps(body).encode("utf-8")
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return Answer(response.status, read_json(response), response.headers)
        except urllib.error.HTTPError as error:
            return Answer(error.code, read_json(error), error.headers)
        except urllib.error.URLError as error:
            raise self.unreachable(error.reason) from None
        except (OSError, http.client.HTTPException) as error:
            raise self.unreachable(error) from None

    def unreachable(self, reason):
        message = f"cannot reach the service at {self.host}: {describe(reason)}"
        return Failure(message, EXIT_UNREACHABLE)

    def login(self, username, password):
        self.token = None
        answer = self.call("POST", "/auth", {"username": username, "password": password})
        if answer.status == 401:
            raise Failure("login failed: wrong admin username or password", EXIT_LOGIN_FAILED)
        token = answer.body.get("access_token") if answer.status == 200 else None
        if not isinstance(token, str):
            raise unexpected(answer, "login failed")
        self.token = token
        self.credentials = (username, password)

    def require_admin(self):
        answer = self.call("GET", "/user/me")
        user = answer.body.get("data") if answer.status == 200 else None
        if not isinstance(user, dict):
            raise unexpected(answer, "cannot check the admin's rights")
        if user.get("admin") is not True:
            raise not_admin(user.get("username"))

    def post_user(self, path, body):
        answer = self.call("POST", path, body)
        if answer.status == 401 and self.credentials:
            # The token expired during a long interactive session: log in again.
            self.login(*self.credentials)
            answer = self.call("POST", path, body)
        if answer.status == 403:
            raise not_admin(self.credentials[0] if self.credentials else None)
        return answer

    def check_new_user(self, **fields):
        """Refuse, as the service would, a new user's username or password.

        A dry run: the service checks the fields it is given by the rules of
        a creation and creates nothing. One field at a time, never both: a
        service too old to know dry runs then refuses the request (a field
        is missing) instead of creating a user.
        """
        answer = self.post_user("/user?dry_run=1", fields)
        if answer.status == 204:
            return
        if answer.status == 400:
            raise Failure(error_message(answer), EXIT_INVALID)
        if answer.status == 409:
            raise Failure(error_message(answer), EXIT_TAKEN)
        raise unexpected(answer, "cannot check the new user")

    def create_user(self, username, password, admin):
        body = {"username": username, "password": password, "admin": admin}
        answer = self.post_user("/user", body)
        if answer.status == 201 and isinstance(answer.body.get("data"), dict):
            return answer.body["data"]
        refused = f"cannot create {username}"
        if answer.status == 400:
            raise Failure(f"{refused}: {error_message(answer)}", EXIT_INVALID)
        if answer.status == 409:
            raise Failure(f"{refused}: that username is already taken", EXIT_TAKEN)
        raise unexpected(answer, refused)


def read_json(response):
    """The JSON object of an answer, or {} when there is none."""
    try:
        body = json.loads(response.read().decode("utf-8"))
    except (OSError, http.client.HTTPException, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def error_message(answer):
    error = answer.body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else f"HTTP {answer.status}"


def describe(reason):
    """Why a connection failed, in a few lower-case words."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    if isinstance(reason, TimeoutError):
        return f"no answer within {TIMEOUT} seconds"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__


def not_admin(username):
    who = username or "that login"
    return Failure(f"{who} is not an admin; only admins can create users", EXIT_NOT_ADMIN)


def unexpected(answer, what):
    """A Failure for an answer the caller has no special case for."""
    if answer.status == 429:
        wait = answer.headers.get("Retry-After") if answer.headers else None
        later = f"in {wait} seconds" if wait and wait.isdigit() else "later"
        return Failure(f"{what}: too many attempts; try again {later}", EXIT_THROTTLED)
    if 300 <= answer.status < 400 and answer.headers and answer.headers.get("Location"):
        where = answer.headers["Location"]
        return Failure(f"{what}: the service redirects to {where}", EXIT_SERVICE_ERROR)
    detail = error_message(answer) if answer.body else "not the answer of an IDM service"
    message = f"{what}: unexpected answer (HTTP {answer.status}: {detail})"
    return Failure(message, EXIT_SERVICE_ERROR)


def normalize_host(host):
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "http://" + host
    if not host.startswith(("http://", "https://")):
        raise Failure(f"host must be an http:// or https:// address, not {host}", EXIT_USAGE)
    return host


def ask(prompt, default=None):
    """A non-empty answer (or the default) to a visible question."""
    while True:
        answer = input(prompt).strip()
        if answer or default is not None:
            return answer or default
        print("Please answer; Ctrl-C to quit.", file=sys.stderr)


def ask_secret(prompt):
    while True:
        answer = getpass.getpass(prompt)
        if answer:
            return answer
        print("Please type a password; Ctrl-C to quit.", file=sys.stderr)


def ask_new_password(check=None):
    """The new user's password, typed twice because nobody sees it.

    With *check* (see accepted), a password it refuses is asked again at
    once, before it is repeated.
    """
    while True:
        password = ask_secret("New password: ")
        if check is not None and not accepted(check, password=password):
            continue
        if getpass.getpass("Repeat new password: ") == password:
            return password
        print("The passwords differ; please type them again.", file=sys.stderr)


def ask_new_username(check):
    """A new username that *check* (see accepted) does not refuse."""
    while True:
        username = ask("New username: ")
        if accepted(check, username=username):
            return username


def accepted(check, **fields):
    """Whether check(**fields) passes; a refusal is reported, other failures raised."""
    try:
        check(**fields)
    except Failure as failure:
        if failure.status not in (EXIT_INVALID, EXIT_TAKEN):
            raise
        print(f"error: {failure}", file=sys.stderr)
        return False
    return True


def ask_yes_no(prompt):
    while True:
        answer = input(prompt).strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        print("Please answer y or n.", file=sys.stderr)


def report_created(user):
    role = "admin" if user.get("admin") else "not admin"
    print(f"created {user.get('username')} ({role})")


def log_in_interactively(service, args):
    """Log in as the admin; a wrong username or password is asked again."""
    admin_user = args.admin_user or ask("Admin username: ")
    admin_password = os.environ.get(ADMIN_PASSWORD_ENV) or ask_secret("Admin password: ")
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        try:
            service.login(admin_user, admin_password)
            return
        except Failure as failure:
            if failure.status != EXIT_LOGIN_FAILED:
                raise
            if attempt == LOGIN_ATTEMPTS:
                message = f"{failure} ({LOGIN_ATTEMPTS} attempts)"
                raise Failure(message, EXIT_LOGIN_FAILED) from None
            print(f"error: {failure}; please try again", file=sys.stderr)
        # Either may be the mistake: the username is offered again as the default.
        admin_user = ask(f"Admin username [{admin_user}]: ", default=admin_user)
        admin_password = ask_secret("Admin password: ")


def run_interactive(args):
    host = args.host or ask(f"Host [{DEFAULT_HOST}]: ", default=DEFAULT_HOST)
    service = Service(normalize_host(host))
    log_in_interactively(service, args)
    # Learn now, not after typing a whole user, whether this login may create.
    service.require_admin()
    status = EXIT_OK
    while True:
        username = ask_new_username(service.check_new_user)
        password = ask_new_password(service.check_new_user)
        admin = ask_yes_no("Admin? [y/N]: ")
        try:
            report_created(service.create_user(username, password, admin))
        except Failure as failure:
            if failure.status not in (EXIT_INVALID, EXIT_TAKEN):
                raise
            print(f"error: {failure}", file=sys.stderr)
            status = failure.status
        if not ask_yes_no("Another? [y/N]: "):
            return status


def scripted_passwords(args):
    """The admin's and the new user's passwords, from stdin, env or a prompt."""
    if args.passwords_stdin:
        admin_password = sys.stdin.readline().rstrip("\r\n")
        new_password = sys.stdin.readline().rstrip("\r\n")
        if not (admin_password and new_password):
            message = "--passwords-stdin needs two lines: the admin password, then the new one"
            raise Failure(message, EXIT_USAGE)
        return admin_password, new_password
    admin_password = os.environ.get(ADMIN_PASSWORD_ENV)
    new_password = os.environ.get(NEW_PASSWORD_ENV)
    at_terminal = sys.stdin.isatty()
    if not admin_password:
        admin_password = ask_secret("Admin password: ") if at_terminal else None
    if not new_password:
        new_password = ask_new_password() if at_terminal else None
    if not (admin_password and new_password):
        missing = NEW_PASSWORD_ENV if admin_password else ADMIN_PASSWORD_ENV
        raise Failure(f"set {missing} or use --passwords-stdin", EXIT_USAGE)
    return admin_password, new_password


def run_scripted(args):
    if not args.admin_user:
        raise Failure("--admin-user is required with --username", EXIT_USAGE)
    admin_password, new_password = scripted_passwords(args)
    service = Service(normalize_host(args.host or DEFAULT_HOST))
    service.login(args.admin_user, admin_password)
    report_created(service.create_user(args.username, new_password, args.admin))
    return EXIT_OK


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help=f"address of the service (default {DEFAULT_HOST})")
    parser.add_argument("--admin-user", metavar="EMAIL", help="username of the admin who logs in")
    parser.add_argument(
        "--username", metavar="EMAIL", help="create this one user without asking anything"
    )
    parser.add_argument("--admin", action="store_true", help="the new user is an admin too")
    parser.add_argument(
        "--passwords-stdin",
        action="store_true",
        help="read the admin password, then the new user's, one per line from stdin",
    )
    args = parser.parse_args(argv)
    if args.username is None and (args.admin or args.passwords_stdin):
        parser.error("--admin and --passwords-stdin go with --username")
    return args


def main(argv=None):
    try:
        args = parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already reported
        return stop.code
    try:
        return run_scripted(args) if args.username is not None else run_interactive(args)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.status
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except EOFError:
        print("\nerror: input ended before all answers were given", file=sys.stderr)
        return EXIT_INPUT_ENDED


if __name__ == "__main__":
    sys.exit(main())
