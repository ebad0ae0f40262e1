"""A real SMTP server in the test process (aiosmtpd) whose inbox tests read."""

import asyncio
import email
import email.policy
import re
import threading
import time

from aiosmtpd.controller import Controller


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.messages = []
        self.arrived = threading.Condition()
        self.delay = 0  # seconds to think before accepting, to widen races
        self.refused = set()  # recipients answered "550 no such user", as real servers do
        self.noops = 0  # NOOP commands seen: the service's server checks

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_NOOP(self, server, session, envelope, arg):
        self.noops += 1
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 OK"


class MailServer:
    """SMTP on 127.0.0.1:*port*; ``start``/``stop`` to simulate an outage."""

    def __init__(self, port):
        self.port = port
        self.inbox = Inbox()
        self.controller = None

    @property
    def messages(self):
        return self.inbox.messages

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count, seconds=10):
        """The messages once at least *count* have arrived; fails after *seconds*."""
        deadline = time.monotonic() + seconds
        with self.inbox.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"expected {count} emails, got {len(self.messages)}"
                self.inbox.arrived.wait(left)
        return list(self.messages)

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


def text_part(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message):
    return message.get_body(preferencelist=("html",)).get_content()


def reset_link(message):
    """The reset link in the plain-text part of a reset email."""
    match = re.search(r"(\S+/reset\?k=[\w-]+)", text_part(message))
    assert match, "no reset link in the email"
    return match.group(1)
