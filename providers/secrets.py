"""Provider credentials, encrypted at rest with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`).

HERALD_PROVIDER_KEYS is a comma-separated list of Fernet keys: the first encrypts, every one decrypts, so a
key is rotated by putting a new one first and running `manage.py provider_keys_rotate`, which re-encrypts
every stored credential under it; then the old key can go. Without the setting (the embedded `make run`),
one key is derived from SECRET_KEY, which production sets and keeps secret anyway.
"""

import base64
import hashlib
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class Undecryptable(Exception):
    """Stored credentials that none of HERALD_PROVIDER_KEYS opens: a key was removed too early."""


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = hashlib.sha256(b"herald provider credentials\x00" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.HERALD_PROVIDER_KEYS), settings.SECRET_KEY)


def encrypt(credentials: dict[str, str]) -> str:
    return fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise Undecryptable("None of HERALD_PROVIDER_KEYS decrypts these credentials.") from None


def rotate(token: str) -> str:
    """The same credentials under the first key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise Undecryptable("None of HERALD_PROVIDER_KEYS decrypts these credentials.") from None
