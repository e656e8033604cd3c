"""The embedded broker: a consumer never reads a message its producer is still writing (celery/kombu#1551)."""

import multiprocessing
import time

import pytest
from kombu import Connection

TRANSPORT = "config.broker:Transport"
PAYLOAD = "x" * 1_000_000  # a large message keeps the writer busy long enough for a reader to look


def _options(folder) -> dict:
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }


def _produce(folder, transport: str, n: int, tag: int) -> None:
    with Connection("filesystem://", transport=transport, transport_options=_options(folder)) as conn:
        queue = conn.SimpleQueue("herald")
        for i in range(n):
            queue.put({"producer": tag, "i": i, "pad": PAYLOAD})


def consume_while_two_processes_produce(folder, transport: str, per_producer: int) -> tuple[list, list]:
    (folder / "processed").mkdir(parents=True)
    fork = multiprocessing.get_context("fork")
    producers = [
        fork.Process(target=_produce, args=(folder, transport, per_producer, tag)) for tag in range(2)
    ]
    for p in producers:
        p.start()
    received, errors = [], []
    with Connection("filesystem://", transport=transport, transport_options=_options(folder)) as conn:
        queue = conn.SimpleQueue("herald")
        deadline = time.monotonic() + 60
        while len(received) + len(errors) < 2 * per_producer and time.monotonic() < deadline:
            try:
                message = queue.get(timeout=0.001)
            except queue.Empty:
                continue
            except Exception as exc:  # what Kombu's own transport raises on a half-written file
                errors.append(exc)
                continue
            received.append((message.payload["producer"], message.payload["i"], len(message.payload["pad"])))
            message.ack()
    for p in producers:
        p.join()
    return received, errors


@pytest.mark.slow
def test_a_consumer_reads_every_message_whole_while_other_processes_write_them(tmp_path):
    received, errors = consume_while_two_processes_produce(tmp_path, TRANSPORT, per_producer=60)
    assert errors == []
    assert sorted(received) == [(tag, i, len(PAYLOAD)) for tag in range(2) for i in range(60)]
    # A writer killed mid-write leaves a partial file no consumer takes: nothing else is in the folder.
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []
