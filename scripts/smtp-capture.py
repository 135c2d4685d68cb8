#!/usr/bin/env python3
"""A throwaway SMTP server for tests: stores every message it receives as an .eml file.

    smtp-capture.py PORT DIR      (PORT 0 picks a free port)

Listens on 127.0.0.1 only, accepts any sender and recipient without authentication and prints
`smtp listening on PORT` on stdout once it accepts connections. Each message is written to
DIR/<time>-<n>.eml, first under a temporary name and then renamed, so a reader never sees half a
message. The envelope is kept in two headers prepended to the message: X-Envelope-From and
X-Envelope-To (comma-separated). Stops on SIGTERM or SIGINT.

Needs the PyPI package aiosmtpd (scripts/test.sh installs it into a venv).
"""

import asyncio
import itertools
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP


class Capture:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("utf-8")
        name = f"{time.time_ns()}-{next(self.counter):05d}"
        tmp = os.path.join(self.directory, f".{name}.tmp")
        final = os.path.join(self.directory, f"{name}.eml")
        with open(tmp, "wb") as f:
            f.write(head + content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, final)
        return "250 Message accepted for delivery"


async def main(port, directory):
    os.makedirs(directory, exist_ok=True)
    handler = Capture(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-capture.test", enable_SMTPUTF8=True),
        host="127.0.0.1",
        port=port,
    )
    chosen = server.sockets[0].getsockname()[1]
    print(f"smtp listening on {chosen}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
