"""The provider call's client CPU: `python -m bench.client_cpu` (issue 15; docs/performance.md).

Starts bench/esp_standin.py as a process of its own (0 ms, so its CPU is not counted here), then sends N
prepared messages through `dispatch.channels.deliver` on one thread with one `Connections`: Anymail's
real Postmark backend and requests, one kept-alive connection. Rendering is done before the clock
starts; what is timed is building the email, Anymail's payload, the HTTP call and reading the answer.
Prints the client's CPU (time.process_time) per send, the median of several rounds, and with
`--profile` the top of a cProfile of one more round.

`--sms`: the same for SMS through dispatch.twilio and twilio's own client and session, to a small
stand-in for Twilio's Messages API in a process of its own (only the URL's scheme and host swapped).

    python -m bench.client_cpu [--n 2000] [--rounds 5] [--profile] [--sms]
"""

import argparse
import cProfile
import http.server
import io
import json
import multiprocessing
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def standin_start() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.esp_standin", "--port", str(port), "--delay-ms", "0"],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "_stats", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError("the ESP stand-in did not start listening")


class _TwilioAnswer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API
    wbufsize = 65536  # the head and body in one write: no Nagle-delayed-ACK stall of 40 ms each
    count = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _TwilioAnswer.count += 1
        body = json.dumps({"sid": f"SM{_TwilioAnswer.count:032x}", "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _twilio_serve(port: int) -> None:
    http.server.ThreadingHTTPServer(("127.0.0.1", port), _TwilioAnswer).serve_forever()


def twilio_standin_start() -> tuple[multiprocessing.Process, str]:
    port = _free_port()
    process = multiprocessing.get_context("fork").Process(target=_twilio_serve, args=(port,), daemon=True)
    process.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    process.kill()
    raise TimeoutError("the Twilio stand-in did not start listening")


def standin_stats(url: str) -> dict:
    with urllib.request.urlopen(url + "_stats", timeout=5) as answer:
        return json.loads(answer.read())


def configure(url: str) -> None:
    """Herald's own settings, sending through Anymail's Postmark backend to the stand-in."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="bench",
        ANYMAIL_POSTMARK_API_URL=url,
        DEBUG="false",
    )
    import django

    django.setup()


def configure_sms(url: str) -> None:
    from django.conf import settings
    from twilio.http.http_client import TwilioHttpClient

    from dispatch import twilio

    class ToStandIn(TwilioHttpClient):
        def request(self, method, uri, *args, **kwargs):
            return super().request(method, uri.replace(twilio.API_URL.rstrip("/"), url), *args, **kwargs)

    class Backend(twilio.TwilioSMSBackend):
        http_client = ToStandIn

    globals()["TwilioToStandIn"] = Backend
    settings.SMS_BACKEND = f"{__name__}.TwilioToStandIn"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "bench"
    settings.TWILIO_FROM = "+4915100000001"


def prepared_sms(n: int) -> list:
    from mailings.models import Mailing
    from mailings.rendering import Rendered
    from sends.models import Send

    mailing = Mailing(channel="sms")
    rendered = Rendered(locale="en", subject="", text="Your code is 4711", html="")
    return [(Send(mailing=mailing, channel="sms", to_address=f"+4915112{i:06d}"), rendered) for i in range(n)]


def prepared(n: int) -> list:
    """N unsaved sends of one mailing, each with its message already rendered."""
    from bench import workload
    from mailings.models import Mailing
    from mailings.rendering import render_mailing, template_data
    from recipients.models import Recipient
    from sends.models import Send

    mailing = Mailing(**workload.MAILING, reply_to="Shop support <support@example.com>")
    messages = []
    for i in range(n):
        recipient = Recipient(email=workload.email("client", i), first_name=workload.first_name(i))
        context = workload.context_for("client", i)
        send = Send(mailing=mailing, channel="email", to_address=recipient.email, context=context)
        data = template_data(recipient=recipient.as_template_data(), context=context)
        messages.append((send, render_mailing(mailing, locale=None, data=data)))
    return messages


def one_round(messages: list, profiler: cProfile.Profile | None = None) -> float:
    """Client CPU seconds per send over one pass, on one fresh set of connections."""
    from dispatch.channels import Connections, deliver

    connections = Connections()
    for send, rendered in messages[:50]:  # open the connection, warm the code paths
        deliver(send, rendered, [], connections)
    cpu = time.process_time()
    if profiler:
        profiler.enable()
    for send, rendered in messages:
        deliver(send, rendered, [], connections)
    if profiler:
        profiler.disable()
    cpu = time.process_time() - cpu
    connections.close()
    return cpu / len(messages)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sends per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is printed (default 5)")
    parser.add_argument("--profile", action="store_true", help="and print a cProfile of one more round")
    parser.add_argument("--sms", action="store_true", help="SMS through Twilio's client instead of email")
    args = parser.parse_args(argv)
    process, url = standin_start()
    sms_process = None
    try:
        configure(url)
        if args.sms:
            sms_process, sms_url = twilio_standin_start()
            configure_sms(sms_url)
        messages = prepared_sms(args.n) if args.sms else prepared(args.n)
        rounds = [one_round(messages) for _ in range(args.rounds)]
        stats = standin_stats(url)
        each = ", ".join(f"{r * 1e6:.0f}" for r in rounds)
        print(
            f"client CPU per send: {statistics.median(rounds) * 1e6:.0f} µs (median of {args.rounds} rounds"
            f" of {args.n}; least {min(rounds) * 1e6:.0f}; rounds {each})"
        )
        print(
            f"stand-in: {stats['api_requests']} requests, {stats['messages']} messages,"
            f" {stats['connections_total']} connections in all"
        )
        if args.profile:
            profiler = cProfile.Profile()
            one_round(messages, profiler)
            out = io.StringIO()
            report = pstats.Stats(profiler, stream=out)
            report.sort_stats("tottime").print_stats(30)
            report.sort_stats("cumulative").print_stats(45)
            print(out.getvalue())
    finally:
        if sms_process is not None:
            sms_process.kill()
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
