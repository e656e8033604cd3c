"""A provider for tests: Anymail's test backend, told in advance how to answer each next message."""

import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError

# Each entry answers one message: an exception to raise, or None for "accepted".
script: list[Exception | None] = []


class ScriptedBackend(AnymailTestBackend):
    def send_messages(self, email_messages):
        for _message in email_messages:
            if script:
                answer = script.pop(0)
                if answer is not None:
                    raise answer
        return super().send_messages(email_messages)


def provider_error(status: int, retry_after: str | None = None) -> AnymailAPIError:
    response = requests.Response()
    response.status_code = status
    response.reason = "Provider says no"
    response._content = b'{"message": "simulated"}'
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return AnymailAPIError("simulated provider error", status_code=status, response=response)
