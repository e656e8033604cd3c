"""A local stand-in for Postmark's send API: `python -m bench.esp_standin --port 8025 --delay-ms 100`.

Answers POST /email and POST /email/batch as Postmark does (the same JSON, field for field, a new
MessageID each message; the batch endpoint a list, one answer per message) after a configurable delay,
so Anymail's real Postmark backend can be pointed at it:

    EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x", "POSTMARK_API_URL": "http://127.0.0.1:8025/"}

One asyncio event loop and a minimal HTTP/1.1 (keep-alive, Content-Length or chunked bodies,
`Expect: 100-continue`): a thread per connection (http.server.ThreadingHTTPServer) spends several times
the CPU per request and its threads contend for the GIL once hundreds of connections are open. Listens
on 127.0.0.1 only.

Faults, for retry tests: `--fail-429 0.1` answers one request in ten with 429 and `Retry-After`,
`--fail-500 0.05` one in twenty with 500; the chosen requests are spread evenly and deterministically
(the n-th request fails when floor(n * fraction) steps up), not drawn at random.

Counters: GET /_stats (JSON: requests, messages, answers by status, in-flight requests now and at most,
connections now, at most and in all, the settings in force); POST /_reset zeroes them; POST /_config
with a JSON object changes delay_ms, fail_429, fail_500 or retry_after while it runs.
In-process only, for tests of timing (provider limits): `server.timeline` lists each send request as
(read at, answered at, status), in time.monotonic() seconds; reset() empties it.

From Python (tests, benchmarks), in a background thread of the calling process:

    server, url = start(delay_ms=100)   # port=0: a free port; url is "http://127.0.0.1:PORT/"
    ...
    server.stats()["messages"]; server.reset(); server.configure(fail_429=0.5)
    server.stop()

A benchmark whose client CPU is measured should run it as its own process instead, so the stand-in's
work is neither counted against the client nor competes with it for the GIL.
"""

import argparse
import asyncio
import contextlib
import json
import math
import threading
import time
import uuid
from datetime import UTC, datetime

HOST = "127.0.0.1"
BATCH_LIMIT = 500  # Postmark's documented limit on messages in one batch call
MAX_BODY = 50 * 1024 * 1024  # Postmark's documented limit on one message, attachments included

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
NO_TOKEN = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either "
    "X-Postmark-Server-Token or X-Postmark-Account-Token."
)


class _BadRequest(Exception):
    pass


def submitted_at() -> str:
    """Postmark's SubmittedAt: local time to seven decimal places, with its offset."""
    now = datetime.now(UTC).astimezone()
    text = now.isoformat(timespec="microseconds")
    return f"{text[:26]}0{text[26:]}"


def accepted(message) -> dict:
    return {
        "To": message.get("To", ""),
        "SubmittedAt": submitted_at(),
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


def refusal(message) -> dict | None:
    """Postmark's own answer to a message it cannot send, or None if it would send it."""
    if not isinstance(message, dict):
        return {"ErrorCode": 403, "Message": "Incompatible JSON input."}
    if not (message.get("To") or message.get("Cc") or message.get("Bcc")):
        return {"ErrorCode": 300, "Message": "Zero recipients specified"}
    if not message.get("From"):
        return {"ErrorCode": 300, "Message": "Invalid 'From' address: ''."}
    return None


class StandIn:
    """The server: its settings, its counters and its asyncio server, run in the loop that created it."""

    def __init__(self, delay_ms: float = 0.0, fail_429: float = 0.0, fail_500: float = 0.0,
                 retry_after: int = 1):  # fmt: skip
        self.delay_ms = delay_ms
        self.fail_429 = fail_429
        self.fail_500 = fail_500
        self.retry_after = retry_after
        self.server: asyncio.base_events.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self.reset()

    # -- counters and settings -----------------------------------------------------------------------

    def reset(self) -> None:
        self.requests = 0  # all requests, /_stats and the like included
        self.api_requests = 0  # POSTs to the send endpoints
        self.messages = 0  # messages accepted (a batch counts each of its messages)
        self.by_status: dict[int, int] = {}
        self.by_path: dict[str, int] = {}
        self.in_flight = 0  # send requests read and not yet answered
        self.max_in_flight = 0
        self.max_connections = len(self._connections)
        self.connections_total = 0
        self.started = time.monotonic()
        self._faults_seen = 0
        self._owed_500 = 0
        self.timeline: list[tuple[float, float, int]] = []

    def configure(self, **settings) -> None:
        for name, value in settings.items():
            if name not in ("delay_ms", "fail_429", "fail_500", "retry_after"):
                raise ValueError(f"unknown setting {name!r}")
            setattr(self, name, int(value) if name == "retry_after" else float(value))

    def settings(self) -> dict:
        return {"delay_ms": self.delay_ms, "fail_429": self.fail_429, "fail_500": self.fail_500,
                "retry_after": self.retry_after}  # fmt: skip

    def snapshot(self) -> dict:
        return {
            "requests": self.requests,
            "api_requests": self.api_requests,
            "messages": self.messages,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_path": dict(sorted(self.by_path.items())),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": len(self._connections),
            "max_connections": self.max_connections,
            "connections_total": self.connections_total,
            "seconds": round(time.monotonic() - self.started, 3),
            "settings": self.settings(),
        }

    def stats(self) -> dict:
        """The counters, read in the server's own loop (safe from any thread)."""
        if self.loop is None or self._thread is None or threading.current_thread() is self._thread:
            return self.snapshot()

        async def read():
            return self.snapshot()

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(timeout=10)

    def _fault(self) -> int | None:
        """429, 500 or None for this send request: evenly spread, in the fractions set."""
        n = self._faults_seen = self._faults_seen + 1

        def step(fraction: float) -> bool:
            return fraction > 0 and math.floor(n * fraction) != math.floor((n - 1) * fraction)

        self._owed_500 += step(self.fail_500)
        if step(self.fail_429):
            return 429
        if self._owed_500:
            self._owed_500 -= 1
            return 500
        return None

    # -- HTTP ----------------------------------------------------------------------------------------

    async def listen(self, port: int = 0, backlog: int = 4096) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self.server = await asyncio.start_server(
            self._connection, HOST, port, backlog=backlog, limit=256 * 1024, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        self._tasks.add(asyncio.current_task())
        self.connections_total += 1
        self.max_connections = max(self.max_connections, len(self._connections))
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away (or sent something this server will not read): drop it
        except asyncio.CancelledError:
            # stop(): end normally (3.11's start_server callback raises on a cancelled task's result).
            if not self._stopping.is_set():
                raise
        finally:
            self._connections.discard(writer)
            self._tasks.discard(asyncio.current_task())
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(self, reader, writer) -> bool:
        """Read, answer; True while the connection is to be kept."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return False  # closed between requests, as keep-alive clients do
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await self._answer(writer, 400, {"Message": "Malformed request line"}, keep=False)
            return False
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        self.requests += 1
        path = target.split("?", 1)[0]
        self.by_path[path] = self.by_path.get(path, 0) + 1

        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = await self._body(reader, headers)
        except _BadRequest as exc:
            await self._answer(writer, exc.args[0], {"Message": exc.args[1]}, keep=False)
            return False

        if method == "GET" and path == "/_stats":
            await self._answer(writer, 200, self.snapshot(), keep)
        elif method == "POST" and path == "/_reset":
            self.reset()
            await self._answer(writer, 200, self.snapshot(), keep)
        elif method == "POST" and path == "/_config":
            try:
                self.configure(**json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                await self._answer(writer, 400, {"Message": str(exc)}, keep)
            else:
                await self._answer(writer, 200, self.settings(), keep)
        elif path in ("/email", "/email/batch"):
            if method != "POST":
                await self._answer(writer, 405, {"ErrorCode": 0, "Message": "Method not allowed"}, keep)
            else:
                await self._send(writer, path, headers, body, keep)
        else:
            await self._answer(writer, 404, {"ErrorCode": 0, "Message": "Not found"}, keep)
        return keep

    async def _body(self, reader, headers) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            size = 0
            while True:
                line = await reader.readuntil(b"\r\n")
                length = int(line.split(b";", 1)[0], 16)
                if length == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    return b"".join(chunks)
                size += length
                if size > MAX_BODY:
                    raise _BadRequest(413, "Request too large")
                chunks.append(await reader.readexactly(length))
                await reader.readexactly(2)
        length = headers.get("content-length")
        if length is None:
            return b""
        if not length.isdigit():
            raise _BadRequest(400, "Bad Content-Length")
        if int(length) > MAX_BODY:
            raise _BadRequest(413, "Request too large")
        return await reader.readexactly(int(length))

    async def _send(self, writer, path, headers, body, keep) -> None:
        self.api_requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        began = time.monotonic()
        try:
            if self.delay_ms > 0:
                await asyncio.sleep(self.delay_ms / 1000)
            status, answer, extra = self._postmark(path, headers, body)
            await self._answer(writer, status, answer, keep, extra)
            self.timeline.append((began, time.monotonic(), status))
        finally:
            self.in_flight -= 1

    def _postmark(self, path, headers, body) -> tuple[int, object, tuple]:
        if not headers.get("x-postmark-server-token"):
            return 401, {"ErrorCode": 10, "Message": NO_TOKEN}, ()
        fault = self._fault()
        if fault == 429:
            return (
                429,
                {"ErrorCode": 429, "Message": "Rate limit exceeded"},
                (("Retry-After", str(self.retry_after)),),
            )
        if fault == 500:
            return 500, {"ErrorCode": 500, "Message": "Internal server error"}, ()
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 422, {"ErrorCode": 402, "Message": "Received invalid JSON input."}, ()
        if path == "/email":
            problem = refusal(data)
            if problem is not None:
                return 422, problem, ()
            self.messages += 1
            return 200, accepted(data), ()
        if not isinstance(data, list):
            return 422, {"ErrorCode": 403, "Message": "Incompatible JSON input."}, ()
        if len(data) > BATCH_LIMIT:
            return 422, {"ErrorCode": 410, "Message": "Too many batch messages."}, ()
        answers = []
        for message in data:
            problem = refusal(message)
            if problem is None:
                self.messages += 1
                answers.append(accepted(message))
            else:
                answers.append(problem)
        return 200, answers, ()

    async def _answer(self, writer, status, answer, keep, extra=()) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        body = json.dumps(answer).encode()
        head = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}",
            f"Date: {_http_date()}",
            "Server: esp-standin",
        ]
        head.extend(f"{name}: {value}" for name, value in extra)
        if not keep:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

    # -- running ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the background thread started by start(); open connections are closed."""
        if self.loop is None or self._thread is None:
            return
        self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)
        self._thread = None

    async def _serve_until_stopped(self) -> None:
        async with self.server:
            await self._stopping.wait()
            self.server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


_date_cache = [0, ""]


def _http_date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))]
    return _date_cache[1]


def start(port: int = 0, delay_ms: float = 0.0, **faults) -> tuple[StandIn, str]:
    """Serve in a daemon thread of this process; return (server, "http://127.0.0.1:PORT/") once listening.

    faults: fail_429, fail_500 (fractions of send requests), retry_after (seconds).
    """
    server = StandIn(delay_ms=delay_ms, **faults)
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.listen(port))
        except BaseException as exc:  # a port in use, say: reported to the caller
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_until_complete(server._serve_until_stopped())
        finally:
            loop.close()

    server._thread = threading.Thread(target=run, name="esp-standin", daemon=True)
    server._thread.start()
    ready.wait(timeout=10)
    if failure:
        server._thread = None
        raise failure[0]
    return server, server.url


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.esp_standin", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025, help="on 127.0.0.1; 0 for any free port")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="before each send answer (default 100)")
    parser.add_argument("--fail-429", type=float, default=0.0, help="fraction of sends answered 429")
    parser.add_argument("--fail-500", type=float, default=0.0, help="fraction of sends answered 500")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, in 429 answers (default 1)")
    args = parser.parse_args(argv)
    server = StandIn(args.delay_ms, args.fail_429, args.fail_500, args.retry_after)

    async def serve() -> None:
        await server.listen(args.port)
        print(f"esp-standin on {server.url} delay {args.delay_ms:g} ms", flush=True)
        await server._serve_until_stopped()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
