#!/usr/bin/env python3
"""A tiny capturing SMTP server for kseries' send tests (aiosmtpd).

Every accepted message is written to CAPTURE_DIR as NNNN.eml (the DATA
bytes as received, CRLF line endings) and NNNN.json (the envelope: MAIL
FROM, RCPT TO, MAIL options, session number, peer, whether TLS was on,
the AUTH user).  Numbering continues across restarts.

Prints "READY <port>" on stdout once listening.  Exits on SIGTERM, when
stdin closes, by itself after --accept-max messages (answering 421 to any
later MAIL), or right after accepting --exit-after messages.  With
--stall-after N it never answers the DATA of any message after the Nth
(a hung server, for the crash tests).
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Handler:
    def __init__(self, capture, accept_max, stop):
        self.capture = capture
        self.accept_max = accept_max
        self.stop = stop
        self.lock = threading.Lock()
        self.sessions = {}
        self.accepted = 0
        self.no_8bitmime = False
        self.exit_after = None
        self.stall_after = None

    def next_number(self):
        nums = [int(n[:4]) for n in os.listdir(self.capture) if n.endswith(".json")]
        return max(nums, default=0) + 1

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.no_8bitmime:
            responses = [r for r in responses if "8BITMIME" not in r]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.accept_max is not None and self.accepted >= self.accept_max:
            self.stop.set()
            return "421 4.3.0 test server going away"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stall_after is not None and self.accepted >= self.stall_after:
            while True:
                await asyncio.sleep(3600)
        with self.lock:
            sid = self.sessions.setdefault(id(session), len(self.sessions) + 1)
            n = self.next_number()
            base = os.path.join(self.capture, "%04d" % n)
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "mail_options": list(envelope.mail_options),
                "session": sid,
                "peer": list(session.peer) if session.peer else None,
                "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                "auth_user": getattr(session, "kseries_user", None),
            }
            tmp = base + ".json.tmp"
            with open(tmp, "w") as f:
                json.dump(meta, f)
            os.rename(tmp, base + ".json")
            self.accepted += 1
            if self.exit_after is not None and self.accepted >= self.exit_after:
                self.stop.set()
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capture", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--accept-max", type=int, default=None)
    ap.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth", help="USER:PASSWORD required for AUTH")
    ap.add_argument("--exit-after", type=int, default=None,
                    help="exit right after accepting this many messages")
    ap.add_argument("--stall-after", type=int, default=None,
                    help="never answer the DATA of a message after this many")
    ap.add_argument("--no-8bitmime", action="store_true",
                    help="do not advertise 8BITMIME")
    args = ap.parse_args()

    os.makedirs(args.capture, exist_ok=True)
    port = args.port or free_port()
    stop = threading.Event()
    handler = Handler(args.capture, args.accept_max, stop)
    handler.no_8bitmime = args.no_8bitmime
    handler.exit_after = args.exit_after
    handler.stall_after = args.stall_after

    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                getattr(auth_data, "login", None) == user.encode()
                and getattr(auth_data, "password", None) == password.encode()
            )
            if ok:
                session.kseries_user = user
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        # aiosmtpd only knows about STARTTLS sessions; under implicit TLS
        # the connection is encrypted from the start anyway.
        kwargs["auth_require_tls"] = args.tls == "starttls"
    else:
        kwargs["auth_require_tls"] = False

    if args.tls == "starttls":
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = True
        controller = Controller(handler, hostname="127.0.0.1", port=port,
                                decode_data=False, **kwargs)
    elif args.tls == "implicit":
        controller = Controller(handler, hostname="127.0.0.1", port=port,
                                ssl_context=ctx, decode_data=False, **kwargs)
    else:
        controller = Controller(handler, hostname="127.0.0.1", port=port,
                                decode_data=False, **kwargs)
    controller.start()
    print("READY %d" % port, flush=True)

    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    # Also stop when whoever started us goes away (stdin closes).
    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            stop.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    # Let a 421 reach the client before the listener goes.
    stop_delay = 0.2
    threading.Event().wait(stop_delay)
    controller.stop()


if __name__ == "__main__":
    main()
