"""How a receiver knows a notification came from Herald: an HMAC of the timestamp and body."""

import hashlib
import hmac

SIGNATURE_HEADER = "Herald-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Herald-Signature header: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.

    The timestamp is signed too, so a receiver that refuses old timestamps cannot be fed a replayed request.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
