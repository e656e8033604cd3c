"""A small stand-in for Postmark's POST /email that keeps each request and answers as told: 200 as Postmark
does, or Postmark's error shape with an HTTP status and ErrorCode (422/300 an invalid address, 401/10 a bad
server token, 503 an outage), after `delay` seconds; it counts the most requests it had at once."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        time.sleep(server.delay)
        with server.lock:
            server.in_flight -= 1
        server.received.append({"path": self.path, "token": self.headers["X-Postmark-Server-Token"], **body})
        status, code = server.answer
        if status == 200:
            answer = {"To": body["To"], "SubmittedAt": "2026-12-07T10:00:00Z", "MessageID": str(uuid.uuid4()),
                      "ErrorCode": 0, "Message": "OK"}  # fmt: skip
        else:
            answer = {"ErrorCode": code, "Message": f"refused with {code}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Postmark:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.received = []
        self.server.answer = (200, 0)
        self.server.delay = 0.0
        self.server.lock = threading.Lock()
        self.server.in_flight = self.server.most_in_flight = 0
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def received(self) -> list[dict]:
        return self.server.received

    @property
    def most_in_flight(self) -> int:
        return self.server.most_in_flight

    def answer(self, status: int, error_code: int = 0) -> None:
        self.server.answer = (status, error_code)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
