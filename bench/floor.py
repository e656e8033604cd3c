"""1. The floor: render and hand to the email backend N messages in one process on one core.

No database and no broker: unsaved model instances go through the worker's own code path
(`render_mailing`, then `deliver`, which builds the email and sends it over one connection) into the
counting backend. Beside it, the same templates through plain Django (one `Engine`, compiled once,
`EmailMultiAlternatives`), which says what Herald's sandbox and message building cost on top.
"""

import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.core.mail import EmailMultiAlternatives, get_connection
from django.template import Context, Engine

from bench import workload
from bench.system import BACKEND, VAR
from dispatch.channels import Connections, deliver
from mailings.models import Mailing
from mailings.rendering import render_mailing, template_data
from recipients.models import Recipient
from sends.models import Send


@contextmanager
def one_core():
    """Run on a single core (the last one), whatever the scheduler would prefer."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def herald_sender() -> Callable[[int], None]:
    mailing = Mailing(**workload.MAILING)
    connections = Connections()

    def send_one(i: int) -> None:
        recipient = Recipient(email=workload.email("floor", i), first_name=workload.first_name(i))
        context = workload.context_for("floor", i)
        send = Send(mailing=mailing, channel="email", to_address=recipient.email, context=context)
        data = template_data(recipient=recipient.as_template_data(), context=context)
        rendered = render_mailing(mailing, locale=None, data=data)
        deliver(send, rendered, [], connections)

    send_one.close = connections.close  # type: ignore[attr-defined]
    return send_one


def plain_django_sender() -> Callable[[int], None]:
    html_engine = Engine(autoescape=True)
    text_engine = Engine(autoescape=False)
    subject, text = (text_engine.from_string(s) for s in (workload.SUBJECT, workload.TEXT))
    html = html_engine.from_string(workload.HTML)
    connection = get_connection(BACKEND)
    connection.open()

    def send_one(i: int) -> None:
        data = {
            "recipient": {"email": workload.email("floor", i), "first_name": workload.first_name(i)},
            "context": workload.context_for("floor", i),
        }
        message = EmailMultiAlternatives(
            subject=subject.render(Context(data)),
            body=text.render(Context(data)),
            from_email=workload.FROM_EMAIL,
            to=[data["recipient"]["email"]],
        )
        message.attach_alternative(html.render(Context(data)), "text/html")
        connection.send_messages([message])

    send_one.close = connection.close  # type: ignore[attr-defined]
    return send_one


def rate(send_one: Callable[[int], None], n: int, *, profile_to: str | None = None) -> float:
    for i in range(min(200, n)):  # warm up: compile templates, fill caches
        send_one(i)
    profiler = cProfile.Profile() if profile_to else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    for i in range(n):
        send_one(i)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    send_one.close()  # type: ignore[attr-defined]
    if profiler and profile_to:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        VAR.mkdir(parents=True, exist_ok=True)
        (VAR / profile_to).write_text(out.getvalue())
    return n / elapsed


def run(n: int) -> dict[str, float]:
    with one_core():
        herald = rate(herald_sender(), n)
        plain = rate(plain_django_sender(), n)
        # A profiled pass, apart from the timed one (the profiler slows what it watches).
        rate(herald_sender(), min(n, 5000), profile_to="profile-floor.txt")
    return {"herald": herald, "plain_django": plain}
