"""Composing and sending emails. Without MAIL_SERVER they go to the log."""

import logging

log = logging.getLogger(__name__)


def problem():
    """Why mail cannot be delivered right now, or None when it can."""
    return None
