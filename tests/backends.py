"""Providers for tests: Anymail's test backend and Twilio's own client, told in advance how to answer."""

import json

import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from dispatch.twilio import TwilioSMSBackend

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


class TwilioRecorder(HttpClient):
    """Twilio's HTTP layer, replaced: twilio's real client builds each request, this records it and answers
    from `twilio_script` (status, body) or with an accepted message, the way Twilio's API answers."""

    requests: list[dict] = []

    def __init__(self) -> None:
        super().__init__(logger=None, is_async=False)

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False) -> TwilioResponse:  # fmt: skip
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {}), "auth": auth})
        if twilio_script:
            status, body = twilio_script.pop(0)
        else:
            sid = f"SM{len(self.requests):032x}"
            status, body = 201, {"sid": sid, "status": "queued", "to": (data or {}).get("To")}
        return TwilioResponse(status, json.dumps(body))


twilio_script: list[tuple[int, dict]] = []


class RecordingTwilioBackend(TwilioSMSBackend):
    http_client = TwilioRecorder
