"""Who runs the outbox sender: a thread in each service process, or a command.

By default every service process (each gunicorn worker) runs one daemon
thread: gunicorn starts it when the worker boots (deploy/gunicorn.conf.py),
any other server on its first request. It looks at the outbox every
IDM_MAIL_POLL_SECONDS, and at once when a commit has just queued mail.
Claims (outbox.claim) let the threads of all workers share the outbox
without sending a message twice. ``flask --app app mail send --loop`` runs
the same loop as its own process for a supervisor (then set
IDM_MAIL_SENDER_THREAD = False); ``--once`` delivers what is due and exits.
See docs/password-reset.md for which to choose.
"""

import logging
import threading

from sqlalchemy.exc import OperationalError

from ..logs import one_line
from . import delivery, health

log = logging.getLogger(__name__)
EXTENSION_KEY = "idm_mail_sender"


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
                delivery.send_queued()
                health.check_if_due()
        except OperationalError as error:
            # The database is away: expected in an outage, and the next round
            # tries again. One line (folded with its repeats, idm/logs.py), not
            # a traceback per round and worker.
            log.warning("mail sender: the database is unavailable: %s", one_line(error))
        except Exception:  # anything else is a bug: its traceback helps
            log.exception("mail sender: this round failed")

    def request_stop(self):
        self.stopping.set()
        self.wakeup.set()

    def stop(self, timeout=10):
        self.request_stop()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout)


class SenderSlot:
    """The one sender thread of an app in this process, started on first use.

    Kept in ``app.extensions``, so that ``wake(current_app)`` finds it with
    public Flask APIs. After a fork (gunicorn) the copied thread is no
    longer alive, so each worker starts its own.
    """

    def __init__(self, app):
        self.app = app
        self.thread = None
        self.lock = threading.Lock()  # two requests may both find no sender running

    def running(self):
        """The live thread, started now if need be; None when turned off by settings."""
        if not self.app.config["IDM_MAIL_SENDER_THREAD"]:
            return None
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = Sender(self.app)
                self.thread.start()
            return self.thread

    def is_running(self):
        thread = self.thread
        return thread is not None and thread.is_alive()

    def stop(self):
        with self.lock:
            thread, self.thread = self.thread, None
        if thread is not None:
            thread.stop()


def slot(app):
    return app.extensions[EXTENSION_KEY]


def start(app):
    """Make sure this process's sender runs (gunicorn's worker boot, the first request)."""
    slot(app).running()


def wake(app):
    """Deliver soon: mail was just queued."""
    thread = slot(app).running()
    if thread is not None:
        thread.wakeup.set()


def stop(app):
    slot(app).stop()


def init_app(app):
    app.extensions[EXTENSION_KEY] = SenderSlot(app)

    def ensure_sender():
        # A cheap check per request; the first one of each process starts
        # the thread, so mail queued before a restart goes out soon after.
        start(app)

    app.before_request(ensure_sender)
