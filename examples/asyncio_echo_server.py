#!/usr/bin/env python3
"""A TLS echo server on asyncio with netsocket.aio: asyncio's own streams
API, one line different from asyncio.start_server(..., ssl=context).

    python3 examples/asyncio_echo_server.py PORT CERT.pem KEY.pem [--uvloop]

Prints "listening on 127.0.0.1:PORT" (PORT 0 picks a free one) and echoes
every byte back to each client until it closes; Ctrl-C stops it.  Run it
from build/bindings/python on PYTHONPATH (or after pip install).
"""
import asyncio
import sys

import netsocket
import netsocket.aio


async def echo(reader, writer):
    peer = writer.get_extra_info("peername")
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()  # waits while the client is slow to read
    except ConnectionError as e:
        print("client %s:%d: %s" % (peer + (e,)), file=sys.stderr)
    finally:
        writer.close()


async def main(port, cert, key):
    options = netsocket.server_tls_socket_options(certificate_files=[cert], private_key_file=key)
    # asyncio: await asyncio.start_server(echo, "127.0.0.1", port, ssl=context)
    server = await netsocket.aio.start_server(echo, "127.0.0.1", port, options)
    print("listening on 127.0.0.1:%d" % server.sockets[0].info()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    if "--uvloop" in sys.argv[4:]:
        import uvloop
        uvloop.install()
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
    except KeyboardInterrupt:
        pass
