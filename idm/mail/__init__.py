"""Email: compose (templates), outbox (the table), sender (the thread), delivery and SMTP.

Requests never talk SMTP: they compose a letter and ``outbox.enqueue`` it in
their own transaction. When that transaction commits, the sender of this
process is woken (below), so the mail leaves at once; nobody has to
remember to wake it.
"""

import logging

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..config import is_development
from . import outbox, sender

log = logging.getLogger(__name__)
WAKE_AFTER_RESPONSE = "idm_wake_sender"


def init_app(app):
    if not app.config["MAIL_SERVER"] and not is_development(app):
        log.warning("MAIL_SERVER is not set: no email (reset links!) can be sent")
    sender.init_app(app)
    app.after_request(wake_sender_after_response)


@event.listens_for(Session, "after_commit")
def wake_sender_after_commit(session):
    """A commit that queued mail wakes this process's sender.

    In a request, once the response has gone out: delivering shares this
    process's CPU, and a page that answered later when it had queued mail
    would tell whether /iforgot found an account.
    """
    if not (session.info.pop(outbox.QUEUED, False) and has_app_context()):
        return
    if has_request_context():
        g.setdefault(WAKE_AFTER_RESPONSE, current_app._get_current_object())
    else:
        sender.wake(current_app)


def wake_sender_after_response(response):
    app = g.pop(WAKE_AFTER_RESPONSE, None)
    if app is not None:
        # Runs when the server closes the response, after its last byte.
        # Should a commit come after this hook, the sender's poll finds it.
        response.call_on_close(lambda: sender.wake(app))
    return response


@event.listens_for(Session, "after_rollback")
def forget_queued_mail(session):
    # The queued rows are gone with the transaction: nothing to send.
    session.info.pop(outbox.QUEUED, None)
