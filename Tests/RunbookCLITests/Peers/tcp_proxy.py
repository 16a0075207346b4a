"""A TCP proxy from a local port to a server: the network between an engine and its database.
Stopping it (SIGSTOP) cuts that network as a partition does: connections hang, nothing answers.

    tcp_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT
Prints "ready" once it listens."""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    listen, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

    async def serve(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
