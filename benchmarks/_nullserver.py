"""A null HTTP/1.1 server: answers every request at once with a fixed small JSON body.

    python benchmarks/_nullserver.py --port 8123 [--cpu 0]

Used by ``benchmarks/loadtest.py`` to find where a load generator tops out: on one core
it answers several times faster than any Python generator can send. uvloop + httptools
(the parser uvicorn uses), keep-alive, no framework.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import httptools
import uvloop

ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n"
          b"\r\n{\"prediction\": 1}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        self.transport.write(ANSWER)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cpu", type=int, default=None)
    args = p.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
