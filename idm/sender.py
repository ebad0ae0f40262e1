"""Who runs the outbox sender: a thread in each service process, or a command.

By default every service process (each gunicorn worker) starts one daemon
thread on its first request. It looks at the outbox every
IDM_MAIL_POLL_SECONDS, and at once when a request has just queued mail.
Claims (outbox.claim) let the threads of all workers share the outbox
without sending a message twice. ``flask --app app mail send --loop`` runs
the same loop as its own process for a supervisor (then set
IDM_MAIL_SENDER_THREAD = False); ``--once`` delivers what is due and exits.
See docs/password-reset.md for which to choose.
"""

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from . import mail

log = logging.getLogger(__name__)
EXTENSION_KEY = "idm_mail_sender"
# Two requests of one process may both find no sender running.
starting = threading.Lock()


class Sender(threading.Thread):
    """Delivers the outbox in rounds until stopped."""

    def __init__(self, app):
        super().__init__(name="idm-mail-sender", daemon=True)
        self.app = app
        self.wakeup = threading.Event()
        self.stopping = threading.Event()

    def run(self):
        interval = self.app.config["IDM_MAIL_POLL_SECONDS"]
        while not self.stopping.is_set():
            self.wakeup.clear()  # before the round: a wake-up during it is kept
            self.send_round()
            self.wakeup.wait(interval)

    def send_round(self):
        try:
            with self.app.app_context():
                mail.send_queued()
        except Exception:  # the database may be away; the next round tries again
            log.exception("mail sender: this round failed")

    def stop(self, timeout=10):
        self.stopping.set()
        self.wakeup.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout)


def running_sender(app):
    """This process's sender thread, started on first use; None when turned off.

    After a fork (gunicorn) the copied Thread object is no longer alive, so
    each worker starts its own.
    """
    if not app.config["IDM_MAIL_SENDER_THREAD"]:
        return None
    sender = app.extensions.get(EXTENSION_KEY)
    if sender is not None and sender.is_alive():
        return sender
    with starting:
        sender = app.extensions.get(EXTENSION_KEY)
        if sender is None or not sender.is_alive():
            sender = Sender(app)
            app.extensions[EXTENSION_KEY] = sender
            sender.start()
    return sender


def wake(app):
    """Deliver soon: mail was just queued."""
    sender = running_sender(app)
    if sender is not None:
        sender.wakeup.set()


def stop(app):
    sender = app.extensions.pop(EXTENSION_KEY, None)
    if sender is not None:
        sender.stop()


def init_app(app):
    def ensure_sender():
        # A cheap check per request; the first one of each process starts
        # the thread, so mail queued before a restart goes out soon after.
        running_sender(app)

    app.before_request(ensure_sender)
    app.cli.add_command(mail_command)


mail_command = AppGroup("mail", help="Outgoing mail: the outbox.")


@mail_command.command("send")
@click.option("--once", "mode", flag_value="once", default=True, help="Deliver what is due, exit.")
@click.option("--loop", "mode", flag_value="loop", help="Keep delivering until SIGTERM/SIGINT.")
def send_command(mode):
    """Deliver queued emails (the same sender the service threads run)."""
    app = current_app._get_current_object()
    if mode == "loop":
        run_until_signalled(Sender(app))
        return
    sent, failed = mail.send_queued()
    click.echo(f"sent {sent}, failed {failed}")
    if failed:
        problem = mail.problem()
        raise click.ClickException(f"delivery failed, will be retried: {problem}")


def run_until_signalled(sender):
    """Run the sender loop in this (main) thread; a signal ends it after the
    message being sent, so a supervisor's stop never cuts a delivery short."""

    def request_stop(signum, _frame):
        log.info("mail sender: signal %d, stopping after this round", signum)
        sender.stopping.set()
        sender.wakeup.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("mail sender: running until SIGTERM")
    sender.run()
