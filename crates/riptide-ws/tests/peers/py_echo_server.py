"""An echo server on Python's `websockets`, the peer for tests/interop.rs's client tests.

argv[1] is `deflate` or `plain`. Prints its port. Echoes each message with its type; one of
4 KiB or more goes back in three fragments; `ping-me` is answered by a ping with payload `hi`
and, once ponged, the text `ponged`.
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError


async def echo(ws):
    try:
        await echo_messages(ws)
    except ConnectionClosedError:
        # websockets reports any close code but 1000/1001 this way; the test checks the code.
        pass


async def echo_messages(ws):
    async for message in ws:
        if message == "ping-me":
            await (await ws.ping(b"hi"))
            await ws.send("ponged")
        elif len(message) >= 4096:
            third = len(message) // 3 + 1
            await ws.send([message[:third], message[third:2 * third], message[2 * third:]])
        else:
            await ws.send(message)


async def main():
    compression = "deflate" if sys.argv[1] == "deflate" else None
    async with serve(echo, "127.0.0.1", 0, compression=compression, max_size=None, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()


asyncio.run(main())
