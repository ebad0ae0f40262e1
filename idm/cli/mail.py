"""``flask --app app mail send --once|--loop``: deliver the outbox from the command line."""

import logging
import signal

import click
from flask import current_app
from flask.cli import AppGroup

from ..mail import delivery, outbox, sender

log = logging.getLogger(__name__)
command = AppGroup("mail", help="Outgoing mail: the outbox.")


@command.command("send")
@click.option("--once", "mode", flag_value="once", default=True, help="Deliver what is due, exit.")
@click.option("--loop", "mode", flag_value="loop", help="Keep delivering until SIGTERM/SIGINT.")
def send(mode):
    """Deliver queued emails (the same sender the service threads run)."""
    if mode == "loop":
        run_until_signalled(sender.Sender(sender.slot(current_app).app))
        return
    sent, failed = delivery.send_queued()
    click.echo(f"sent {sent}, failed {failed}")
    if failed:
        error = outbox.latest_error()
        raise click.ClickException(f"delivery failed, will be retried: {error}")


def run_until_signalled(thread):
    """Run the sender loop in this (main) thread; a signal ends it after the
    message being sent, so a supervisor's stop never cuts a delivery short."""

    def request_stop(signum, _frame):
        log.info("mail sender: signal %d, stopping after this round", signum)
        thread.request_stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("mail sender: running until SIGTERM")
    thread.run()
