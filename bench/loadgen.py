"""An open-loop HTTP/1.1 load generator on raw asyncio streams.

httpx costs about a millisecond of CPU per request; at several hundred requests a second on 2 cores the
generator would steal the CPU it is measuring. This client writes the request bytes and parses the status line,
headers and a Content-Length (or chunked) body, keeping connections alive in a pool.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse


class RawClient:
    """POSTs to one host:port over a pool of keep-alive connections (a new one whenever none is idle)."""

    def __init__(self, base_url: str, *, max_connections: int = 400) -> None:
        parsed = urlparse(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0
        self.slots = asyncio.Semaphore(max_connections)

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], *, timeout: float = 15.0
    ) -> tuple[int, bytes]:
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with self.slots:
            # A kept-alive connection the server closed while idle (uvicorn: after 5 s) fails at once: like any
            # HTTP client, send again on a fresh connection (only then; a fresh one's failure is an error).
            while True:
                reused = bool(self.idle)
                reader, writer = self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
                writer.write(request)
                try:
                    status, payload, keep = await asyncio.wait_for(_read_response(reader), timeout)
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
                    if reused:
                        continue
                    raise
                except BaseException:
                    writer.close()
                    raise
                break
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status, payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before the answer")
    status = int(status_line.split()[1])
    length, chunked, keep = None, False, True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if chunked:
        parts = []
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readline()
        return status, b"".join(parts), keep
    if length is None:
        return status, b"", keep and status in (204, 304)
    return status, await reader.readexactly(length), keep


async def open_loop(
    clients: list[RawClient], path: str, deliveries: list[tuple[bytes, dict[str, str]]], rate: float
) -> dict:
    """Send every delivery on schedule (i / rate seconds after the start) whatever the answers' latency.

    Returns the answers as (latency ms, status, body, sent at epoch seconds) and the achieved duration.
    """
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    late = 0.0

    async def one(client: RawClient, body: bytes, headers: dict[str, str]):
        sent_at = time.time()
        t0 = time.perf_counter()
        try:
            status, payload = await client.post(path, body, headers)
        except (TimeoutError, OSError, ConnectionError, ValueError, IndexError) as exc:
            return (time.perf_counter() - t0) * 1000, 0, type(exc).__name__.encode(), sent_at
        return (time.perf_counter() - t0) * 1000, status, payload, sent_at

    tasks = []
    for i, (body, headers) in enumerate(deliveries):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        tasks.append(asyncio.create_task(one(clients[i % len(clients)], body, headers)))
    answers = await asyncio.gather(*tasks)
    return {"answers": answers, "wall": loop.time() - start, "late_ms": late * 1000}
