"""An SMTP server on loopback that accepts every message and logs when it came, for bench/.

Run as its own process, so that accepting mail never competes for the GIL with the code
that measures:

    python bench/_smtp_sink.py --port 2525 --log /tmp/received.log

It prints "ready" on stdout once it listens. Each accepted message adds one line to the
log, "<time.monotonic()> <Message-ID>" ("-" when the message has none), written in small
batches so a reader sees each message within about --flush-ms. CLOCK_MONOTONIC is one
clock for every process on a Linux machine, so the times compare with the reader's own
time.monotonic(). SIGTERM or SIGINT writes what is left and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import time

from aiosmtpd.smtp import SMTP

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class CountingHandler:
    def __init__(self) -> None:
        self.pending: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        received = time.monotonic()
        content = envelope.original_content or envelope.content
        headers = content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(headers)
        message_id = found.group(1).decode("ascii", "replace") if found else "-"
        self.pending.append(f"{received:.6f} {message_id}\n")
        return "250 2.0.0 OK"


async def serve(port: int, log_path: str, flush_seconds: float) -> None:
    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bench-sink", ident="bench-sink"), "127.0.0.1", port)
    with open(log_path, "a", encoding="ascii") as log:
        print("ready", flush=True)

        def write_pending() -> None:
            if handler.pending:
                lines, handler.pending = handler.pending, []
                log.write("".join(lines))
                log.flush()

        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), flush_seconds)
            except asyncio.TimeoutError:
                pass
            write_pending()
        server.close()
        write_pending()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True, help="file the receive times are appended to")
    parser.add_argument("--flush-ms", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.log, args.flush_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
