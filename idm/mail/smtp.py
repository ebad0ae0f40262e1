"""Delivery over SMTP with Flask-Mail: the one module that imports it.

delivery.deliver imports this module on the first delivery to a server, not at
start-up: Flask-Mail brings smtplib and the email.mime package (about
0.9 MiB per process), which a worker that never sends mail does not need.
"""

import smtplib

import flask_mail
from flask import current_app

from .outbox import Undeliverable

extension = flask_mail.Mail()


def send(recipient, letter):
    """Send *letter* to *recipient* through MAIL_SERVER; raises on any SMTP or network error."""
    email = flask_mail.Message(
        subject=letter.subject,
        recipients=[recipient],
        body=letter.text,
        html=letter.html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    try:
        with TimedConnection(mail()) as connection:
            connection.send(email)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            # "550 no such user": the server's final word on this recipient.
            raise Undeliverable(error) from error
        raise


def mail():
    if "mail" not in current_app.extensions:
        # Flask-Mail reads its settings from here while it sends. Two threads
        # may both register: each stores the same settings, read from config.
        extension.init_app(current_app)
    return current_app.extensions["mail"]


class TimedConnection(flask_mail.Connection):
    """Flask-Mail's connection, but with a timeout on every network operation.

    Flask-Mail opens its socket without one, so a server that accepts the
    connection and then says nothing would hold the sender for ever.
    """

    def configure_host(self):
        settings = self.mail
        timeout = current_app.config["IDM_MAIL_TIMEOUT"]
        smtp_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
        host = smtp_class(settings.server, settings.port, timeout=timeout)
        if settings.use_tls:
            host.starttls()
        if settings.username and settings.password:
            host.login(settings.username, settings.password)
        return host
