"""What the benchmark drives: seeded databases, the gunicorn servers, the scenarios.

The service runs in production mode: a settings file (IDM_SETTINGS) with a
random SECRET_KEY and the database URI, and everything else as in
defaults.py, so passwords are hashed with the production method.
"""

import json
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .servers import ROOT, Server, server_environment

PER_PAGE = 50


@dataclass
class Scenario:
    key: str  # what the ratios refer to
    label: str  # what the table shows
    server: Server
    path: str
    headers: tuple = ()
    body: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self):
        return self.server.url + self.path


def run_json(command, env):
    """Run a seeding command; its last line of output is JSON."""
    result = subprocess.run(
        command, cwd=ROOT, env=server_environment(env), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# How /user/me is measured with each way of signing: IDM_JWT_ALGORITHM and what it needs.
ALGORITHMS = {
    "RS256": "",  # the default
    "ES256": "IDM_JWT_ALGORITHM = 'ES256'\n",
    "EdDSA": "IDM_JWT_ALGORITHM = 'EdDSA'\n",
    "HS256": "IDM_JWT_ALGORITHM = 'HS256'\nIDM_JWT_HMAC_SECRET = {secret!r}\n",
}
DEFAULT_ALGORITHM = "RS256"


def service_settings(path, database_uri, algorithm=DEFAULT_ALGORITHM):
    path.write_text(
        f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
        f"SQLALCHEMY_DATABASE_URI = {database_uri!r}\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
        "# The run must not outlive its tokens (the default is 15 minutes).\n"
        "IDM_ACCESS_TOKEN_LIFETIME = 3600\n"
        + ALGORITHMS[algorithm].format(secret=secrets.token_urlsafe(48))
    )
    return path


def start_service(name, database_uri, users, workdir, extra_env=None, algorithm=DEFAULT_ALGORITHM):
    """Seed a database with *users* users, then serve it; returns (server, seed)."""
    settings = service_settings(workdir / f"{name}.settings.py", database_uri, algorithm)
    env = {"IDM_SETTINGS": str(settings)}
    seed = run_json([sys.executable, "-m", "bench.seed", str(users)], env)
    return Server(name, "app:app", env | (extra_env or {}), workdir), seed


def start_subjects_service(name, database_uri, subjects, workdir, algorithm=DEFAULT_ALGORITHM):
    """Seed a database with *subjects* subjects through the CSV import, then serve it."""
    settings = service_settings(workdir / f"{name}.settings.py", database_uri, algorithm)
    env = {"IDM_SETTINGS": str(settings)}
    seed = run_json([sys.executable, "-m", "bench.seed_subjects", str(subjects)], env)
    return Server(name, "app:app", env, workdir), seed


def start_jwt_ext(users, workdir):
    env = {
        "BENCH_DB_URI": f"sqlite:///{workdir / 'jwt_ext.sqlite'}",
        "BENCH_SECRET_KEY": secrets.token_hex(32),
    }
    seed = run_json([sys.executable, "-m", "bench.jwt_ext_app", str(users)], env)
    return Server("jwt-ext", "bench.jwt_ext_app:create_app()", env, workdir), seed["token"]


def start_baselines(workdir, password_hash):
    ping = Server("ping", "bench.ping_app:app", {}, workdir)
    hash_env = {"BENCH_PASSWORD_HASH": password_hash}
    hash_alone = Server("hash-alone", "bench.hash_app:create_app()", hash_env, workdir)
    return ping, hash_alone


def bearer(token):
    return (f"Authorization: Bearer {token}",)


def me_scenarios(ping, jwt_ext, jwt_ext_token, services):
    """/user/me with each algorithm (*services*: {algorithm: (server, seed)}) and its baselines."""
    scenarios = [
        Scenario("ping", "bare Flask GET /ping", ping, "/ping"),
        Scenario("jwt_ext_me", "Flask-JWT-Extended GET /me", jwt_ext, "/me", bearer(jwt_ext_token)),
    ]
    for algorithm, (server, seed) in services.items():
        key = "me" if algorithm == DEFAULT_ALGORITHM else f"me_{algorithm}"
        label = f"service GET /user/me {algorithm}"
        label += " (default)" if algorithm == DEFAULT_ALGORITHM else ""
        scenarios.append(Scenario(key, label, server, "/user/me", bearer(seed["admin_token"])))
    return scenarios


def login_scenarios(service, seed, hash_alone):
    """POST /auth against the hash alone."""
    login_body = json.dumps(seed["login"])
    return [
        Scenario("hash", "hash alone POST /hash", hash_alone, "/hash", body=login_body),
        Scenario(
            "auth",
            "service POST /auth",
            service,
            "/auth",
            body=login_body,
            extra={"password_hash": seed["password_hash"]},
        ),
    ]


def users_scenario(database, size, users, server, seed):
    return Scenario(
        f"users_{database}_{size}",
        f"service GET /users {database} {users:,} users",
        server,
        f"/users?perpage={PER_PAGE}",
        bearer(seed["admin_token"]),
        extra={"database": database, "size": size, "users": users},
    )


def check_answer(scenario):
    """One request as wrk will send it; raise with the answer unless it is 2xx."""
    headers = dict(header.split(": ", 1) for header in scenario.headers)
    data = None
    if scenario.body is not None:
        data = scenario.body.encode()
        headers["Content-Type"] = "application/json"
    # The URL is always http://127.0.0.1:<port>, built by servers.Server.
    request = urllib.request.Request(scenario.url, data=data, headers=headers)  # noqa: S310
    try:
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310
    except urllib.error.HTTPError as error:
        answer = error.read().decode(errors="replace")
        raise RuntimeError(
            f"{scenario.label}: {error.code} from {scenario.url}: {answer}"
        ) from None


# GET /subject as the study's frontend asks for it: by name (its list) and by
# changed, newest first (its "recent subjects"); the first page, the last, and
# at the larger size the middle, which is the farthest any page is from an end.
SUBJECT_ORDERS = {"name": "ordercol=name&orderdir=asc", "changed": "ordercol=changed&orderdir=desc"}


def subject_pages(subjects, size):
    pages = {"first": 0, "last": max(0, subjects - PER_PAGE)}
    if size == "large":
        pages["middle"] = subjects // 2 - PER_PAGE // 2
    return pages


def subjects_scenarios(database, size, subjects, server, seed):
    scenarios = []
    for order, query in SUBJECT_ORDERS.items():
        for page, offset in subject_pages(subjects, size).items():
            if page == "middle" and order != "name":
                continue
            scenarios.append(
                Scenario(
                    f"subjects_{database}_{size}_{order}_{page}",
                    f"service GET /subject {order} {page} {database} {subjects:,}",
                    server,
                    f"/subject?{query}&perpage={PER_PAGE}&offset={offset}",
                    bearer(seed["admin_token"]),
                    extra={"database": database, "import_seconds": seed["import_seconds"]},
                )
            )
    return scenarios
