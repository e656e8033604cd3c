"""The README's curl walk-through, request by request, with the answers it promises."""

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import api_client_for

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
HOST = "http://127.0.0.1:8000"


def curl_calls(block: str) -> list[tuple[str, str, dict | None]]:
    """Each curl as (method, path, JSON body)."""
    words = shlex.split(block, comments=True)
    calls = []
    for start in [i for i, word in enumerate(words) if word == "curl"]:
        command = words[start : words.index("curl", start + 1) if "curl" in words[start + 1 :] else None]
        url = next(word for word in command if word.startswith(HOST))
        method = command[command.index("-X") + 1] if "-X" in command else "GET"
        body = json.loads(command[command.index("-d") + 1]) if "-d" in command else None
        calls.append((method, url.removeprefix(HOST), body))
    return calls


def documented_answer(block: str) -> tuple[int, dict]:
    """The `# → 400 {…}` comment that ends a block, as (status, body)."""
    text = " ".join(line.removeprefix("#").strip() for line in block.splitlines() if line.startswith("#"))
    status, _, body = text.removeprefix("→ ").partition(" ")
    return int(status), json.loads(body)


# The README runs on a fresh database: its mailing is 1 and its trigger is 1.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_walkthrough_answers_as_the_readme_says(org):
    walkthrough, bad_batch = [b for b in re.findall(r"```sh\n(.*?)```", README, flags=re.S) if "curl" in b][
        :2
    ]
    client = api_client_for(org)
    answers = [
        client.generic(method, path, json.dumps(body) if body else "", content_type="application/json")
        for method, path, body in curl_calls(walkthrough) + curl_calls(bad_batch)
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 202, 200, 200, 400]
    assert answers[2].json()["sends"][0]["status"] == "queued"
    assert documented_answer(bad_batch) == (400, answers[-1].json())
