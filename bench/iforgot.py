"""POST /iforgot for known against unknown addresses: can its timing tell them apart?

One client, one keep-alive connection, one request at a time, as a careful
attacker would measure: POST /iforgot alternately for an address that has
an account and one that has none, in the order K U U K K U U K …, so that
each kind follows each kind equally often (a request after a known one may
share the worker with that one's delivery). The service runs as in
production, with a real SMTP server on loopback: known addresses get their
email sent by the worker's sender thread after the response. Per-account
and per-IP limits are lifted so that no request takes the throttled path.

The verdict compares the difference of the medians with the noise of the
same run: the half-width of its 95% bootstrap interval (the medians of
2,000 resamples of each kind). A difference below that noise means these
samples cannot tell the two kinds apart.

    python -m bench.iforgot            # this scenario alone
    python -m bench.iforgot --quick    # smoke run
"""

import argparse
import http.client
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiosmtpd.controller import Controller

from .scenarios import run_json, service_settings
from .seed import bulk_user_name
from .servers import ROOT, Server, free_port, server_environment

SAMPLES, QUICK_SAMPLES = 600, 20  # per kind
USERS = 1_000
RESAMPLES = 2_000
SENT_PAGE = b"If an account exists for"


class Sink:
    """aiosmtpd handler that accepts every message and keeps a count."""

    def __init__(self):
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        return "250 OK"


def start(workdir, users=USERS, sender_process=False):
    """The service under gunicorn, seeded with *users*, mailing a local SMTP sink.

    *sender_process*: no sender thread in the workers; ``flask mail send
    --loop`` delivers, as DEPLOY.md allows. Returns (server, smtp, sink, sender).
    """
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = service_settings(workdir / "iforgot.settings.py", f"sqlite:///{workdir}/if.sqlite")
    with open(settings, "a") as extra:
        extra.write(
            f"MAIL_SERVER = '127.0.0.1'\nMAIL_PORT = {smtp.port}\n"
            "IDM_RESET_MAX_PER_ACCOUNT_PER_HOUR = 10**9\nIDM_RESET_MAX_PER_IP_PER_HOUR = 10**9\n"
            f"IDM_MAIL_SENDER_THREAD = {not sender_process}\n"
        )
    env = {"IDM_SETTINGS": str(settings)}
    run_json([sys.executable, "-m", "bench.seed", str(users)], env)
    sender = None
    if sender_process:
        command = [sys.executable, "-m", "flask", "--app", "app", "mail", "send", "--loop"]
        sender = subprocess.Popen(command, cwd=ROOT, env=server_environment(env))
    return Server("idm-iforgot", "app:app", env, workdir), smtp, sink, sender


class Browser:
    """A keep-alive connection with the session cookie and CSRF token of /iforgot."""

    def __init__(self, url):
        self.connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
        self.connection.request("GET", "/iforgot")
        response = self.connection.getresponse()
        page = response.read().decode()
        self.cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def ask(self, username):
        """Seconds from sending POST /iforgot to the last byte of its answer."""
        body = urlencode({"csrf_token": self.csrf, "username": username})
        headers = {"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        self.connection.request("POST", "/iforgot", body, headers)
        response = self.connection.getresponse()
        page = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200 or SENT_PAGE not in page:
            raise RuntimeError(f"POST /iforgot for {username}: {response.status}")
        return elapsed


def measure(url, samples, users=USERS):
    """{"known": [seconds, …], "unknown": [seconds, …]}, *samples* each, K U U K order."""
    browser = Browser(url)
    times = {"known": [], "unknown": []}
    for number in range(samples):
        known = bulk_user_name(1 + number % (users - 1))
        unknown = f"nobody{number:06d}@bench.example"
        pair = [("known", known), ("unknown", unknown)]
        for kind, username in pair if number % 2 == 0 else reversed(pair):
            times[kind].append(browser.ask(username))
    return times


def verdict(times, seed=0):
    """(median known, median unknown, difference, noise), all in milliseconds."""
    known, unknown = times["known"], times["unknown"]
    difference = statistics.median(known) - statistics.median(unknown)
    draw = random.Random(seed)  # noqa: S311 - resampling, not secrets
    resampled = sorted(
        statistics.median(draw.choices(known, k=len(known)))
        - statistics.median(draw.choices(unknown, k=len(unknown)))
        for _ in range(RESAMPLES)
    )
    low, high = resampled[int(0.025 * RESAMPLES)], resampled[int(0.975 * RESAMPLES) - 1]
    milli = 1000
    return (
        statistics.median(known) * milli,
        statistics.median(unknown) * milli,
        difference * milli,
        (high - low) / 2 * milli,
    )


def report_line(times):
    known, unknown, difference, noise = verdict(times)
    outcome = "below the noise" if abs(difference) < noise else "ABOVE THE NOISE"
    return (
        f"POST /iforgot known vs unknown ({len(times['known'])} each, alternating):"
        f" median {known:.3f} ms vs {unknown:.3f} ms, difference {difference:+.3f} ms;"
        f" noise (95% bootstrap half-width) {noise:.3f} ms: {outcome}"
    )


def run(workdir, samples, users=USERS, sender_process=False):
    server, smtp, sink, sender = start(workdir, users, sender_process)
    try:
        server.wait_until_ready()
        measure(server.url, max(2, samples // 10), users)  # warm-up: imports, caches, senders
        times = measure(server.url, samples, users)
        server.wait_until_idle()
    finally:
        server.stop()
        server.wait_stopped()
        if sender is not None:
            sender.terminate()
            sender.wait(timeout=15)
        smtp.stop()
    if sink.received == 0:
        raise RuntimeError("no email reached the SMTP sink: the known path did not send")
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few samples")
    parser.add_argument("--samples", type=int, help="requests per kind")
    parser.add_argument(
        "--sender-process", action="store_true", help="deliver from `flask mail send --loop`"
    )
    args = parser.parse_args(argv)
    samples = args.samples or (QUICK_SAMPLES if args.quick else SAMPLES)
    users = 50 if args.quick else USERS
    with tempfile.TemporaryDirectory(prefix="idm-bench-iforgot-") as tmp:
        print(report_line(run(Path(tmp), samples, users, args.sender_process)))


if __name__ == "__main__":
    main()
