"""Text as an answer may repeat it. No imports from Herald: core.errors and core.inputs both use it."""

import unicodedata

ECHO_CHARS = 200


def printable(value, limit: int = ECHO_CHARS) -> str:
    """The text with control characters and lone surrogates escaped, clipped to `limit` characters.

    An error message that echoes a refused value must not itself fail to encode (a 500 in place of the
    400), inject a line into a log, or run to megabytes (a 100,000-item array repeated back).
    """
    if not isinstance(value, str):
        value = str(value)
    clipped = value[:limit]
    if clipped.isprintable() and clipped.isascii():
        return clipped + ("…" if len(value) > limit else "")
    out = []
    for ch in clipped:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF or unicodedata.category(ch) == "Cc":
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out) + ("…" if len(value) > limit else "")
