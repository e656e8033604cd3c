"""How long an SMS is: its encoding and the segments the phone network carries it in."""

from dataclasses import dataclass

# GSM 03.38: the default alphabet (one septet each) and its extension table (an escape and a septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")
# (one segment, each segment of a longer message: its user-data header takes the rest)
SEGMENT_SIZES = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SMSLength:
    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # septets for GSM-7 (an extension character counts 2), UTF-16 code units for UCS-2
    segments: int  # messages the phone network carries (and the provider bills)
    segment_size: int  # what one segment of this message holds, in the same units as `length`
    unicode_characters: tuple[str, ...]  # the characters that made it UCS-2, each once, in order


def sms_length(text: str) -> SMSLength:
    """How an SMS of `text` travels: its encoding, its length and how many segments it takes.

    A character outside GSM-7 (an emoji, a curly quote, "ł") turns the whole message into UCS-2, which
    holds less than half as much per segment: `unicode_characters` names the culprits for the preview.
    """
    gsm7 = GSM7_BASIC | GSM7_EXTENDED
    unicode_characters = tuple(dict.fromkeys(ch for ch in text if ch not in gsm7))
    if unicode_characters:
        encoding = "UCS-2"
        # A character beyond the Basic Multilingual Plane (most emoji) is a surrogate pair: two units.
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    else:
        encoding = "GSM-7"
        costs = [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    single, multi = SEGMENT_SIZES[encoding]
    length = sum(costs)
    if length <= single:
        return SMSLength(encoding, length, 1 if length else 0, single, unicode_characters)
    # Phones never split an escape sequence or a surrogate pair across two segments: pack whole characters.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return SMSLength(encoding, length, segments, multi, unicode_characters)
