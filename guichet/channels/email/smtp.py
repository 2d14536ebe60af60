"""Inbound SMTP/LMTP server (aiosmtpd): an MTA such as Postfix hands our mail over to it.

Transport only. RCPT is accepted for enabled mailbox addresses (550 5.1.1 otherwise); DATA is
answered 250 only once `email_receive` has committed the raw bytes, 451 4.3.0 when it could not
(RFC 5321 §6.1: after the 250 we must not lose the message). Parsing and ingest run afterwards in
a worker thread, so a slow or poisonous message never delays an acknowledgement.

Database work runs in threads (Django's ORM is synchronous); the event loop only talks SMTP.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from guichet.channels.email.models import InboundEmail
from guichet.channels.email.services import (
    email_process,
    email_process_pending,
    email_store,
    mailbox_for_address,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 50 * 1024 * 1024  # larger messages get 552 from aiosmtpd
ACCEPTED = "250 2.0.0 Message stored"
UNKNOWN_RECIPIENT = "550 5.1.1 <{}>: no mailbox here"
STORE_FAILED = "451 4.3.0 Could not store the message, try again later"


def _db(function: Callable[..., Any], *args: Any) -> Any:
    """Run ORM work in a worker thread, dropping a connection the database closed meanwhile."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


def _mailbox_id(address: str) -> int | None:
    mailbox = mailbox_for_address(address)
    return mailbox.pk if mailbox else None


def _store(raw: bytes, mail_from: str, recipients: list[str]) -> tuple[list[bool], list[int]]:
    """One stored row per recipient mailbox, each committed on its own.

    Returns whether each recipient's copy is stored (in `recipients` order) and the ids of rows
    still to process. A copy that could not be stored is logged and reported as not stored; the
    others are kept (LMTP answers each recipient: only the failed ones are retried).
    """
    to_process: list[int] = []
    stored: dict[int | None, bool] = {}
    result: list[bool] = []
    for address in recipients:
        try:
            mailbox = mailbox_for_address(address)
            key = mailbox.pk if mailbox else None
            if key not in stored:
                received = email_store(
                    raw=raw,
                    mailbox=mailbox,
                    source=InboundEmail.Source.SMTP,
                    envelope_from=mail_from,
                    envelope_to=address,
                )
                stored[key] = True
                if received.inbound_email.state == InboundEmail.State.RECEIVED:
                    to_process.append(received.inbound_email.pk)
            result.append(stored[key])
        except Exception:
            logger.exception("Could not store a message for %s", address)
            result.append(False)
    return result, to_process


def _process(ids: list[int]) -> None:
    for pk in ids:
        email_process(InboundEmail(pk=pk))


class InboundHandler:
    """aiosmtpd handler: RCPT checks the mailbox, DATA stores then acknowledges."""

    def __init__(self, *, lmtp: bool = False) -> None:
        self.lmtp = lmtp
        # One thread stores (in arrival order), another processes: storing is never queued
        # behind parsing a large message.
        self.store_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp-store")
        self.process_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp-ingest")

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_executor, _db, function, *args)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if await self._in_thread(_mailbox_id, address) is None:
            return UNKNOWN_RECIPIENT.format(address.replace("\r", "").replace("\n", "")[:254])
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # decode_data is off; keep mypy and odd clients honest
            raw = raw.encode("utf-8", "surrogateescape")
        recipients = list(envelope.rcpt_tos)
        raw = with_return_path(raw, envelope.mail_from or "")
        try:
            stored, ids = await self._in_thread(_store, raw, envelope.mail_from or "", recipients)
        except Exception:
            logger.exception("Could not store a message for %s", recipients)
            stored, ids = [False] * len(recipients), []
        if ids:
            self.process_executor.submit(_db, _process, ids)
        return self._reply(stored)

    def _reply(self, stored: list[bool]) -> str:
        if self.lmtp:
            # LMTP (RFC 2033 §4.2): one answer per accepted recipient, in RCPT order, so that
            # the client retries only the copies that were not stored.
            return "\r\n".join(ACCEPTED if ok else STORE_FAILED for ok in stored or [False])
        # SMTP has one answer: 451 unless every copy is stored (a retry of the stored ones is
        # absorbed by the dedupe key).
        return ACCEPTED if stored and all(stored) else STORE_FAILED

    def recover(self) -> None:
        """Process rows a previous run stored but did not process (a crash after the 250)."""
        self.process_executor.submit(_db, email_process_pending)

    def shutdown(self) -> None:
        self.store_executor.shutdown(wait=True)
        self.process_executor.shutdown(wait=True)


def with_return_path(raw: bytes, mail_from: str) -> bytes:
    """Record the envelope sender as a final delivery agent does (RFC 5321 §4.4).

    Without it the parser could never see the empty reverse path of a bounce, and would answer
    it. A Return-Path the client sent is replaced: only the envelope is trustworthy.
    """
    sender = mail_from.strip().strip("<>").replace("\r", "").replace("\n", "")
    header, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        header, separator, body = raw.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in header or not header else b"\n"
    lines: list[bytes] = []
    dropping = False
    for line in header.split(newline):
        if line[:1] in (b" ", b"\t") and dropping:
            continue  # a folded continuation of a dropped Return-Path
        dropping = line.lower().startswith(b"return-path:")
        if not dropping:
            lines.append(line)
    added = b"Return-Path: <" + sender.encode("utf-8", "replace") + b">"
    return newline.join([added, *lines]) + separator + body


class InboundServer:
    """The listening server: `serve_forever()` for the command, `start()`/`stop()` for tests."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        lmtp: bool = False,
        max_size: int = DEFAULT_MAX_SIZE,
        hostname: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.lmtp = lmtp
        self.max_size = max_size
        self.hostname = hostname
        self.handler = InboundHandler(lmtp=lmtp)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def _protocol(self) -> SMTP:
        protocol = LMTP if self.lmtp else SMTP
        return protocol(
            self.handler,
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.hostname,
            ident="Guichet",
        )

    async def _serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self.handler.recover()
        self._ready.set()
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT; then finish storing and processing what was accepted."""

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            task = asyncio.create_task(self._serve(stop))
            while not self._ready.is_set() and not task.done():
                await asyncio.sleep(0.01)
            if on_ready and self._ready.is_set():
                on_ready()
            await task

        try:
            asyncio.run(main())
        finally:
            self.handler.shutdown()

    def start(self) -> None:
        """Serve in a background thread (tests); returns once the port accepts connections."""

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            try:
                self._loop.run_until_complete(self._serve(self._stop))
            except BaseException as exc:
                self._startup_error = exc
                self._ready.set()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="smtp-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self.handler.shutdown()
