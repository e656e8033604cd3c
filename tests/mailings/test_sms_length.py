"""How long an SMS is: GSM-7 or UCS-2, and the segments it takes (what the mailing preview shows)."""

import pytest

from mailings.sms_length import sms_length


@pytest.mark.parametrize(
    ("text", "segments"),
    [("", 0), ("a", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3)],
)
def test_gsm7_takes_160_characters_in_one_segment_and_153_in_each_of_several(text, segments):
    length = sms_length(text)
    assert (length.encoding, length.length, length.segments) == ("GSM-7", len(text), segments)
    assert length.unicode_characters == ()


def test_the_gsm7_accents_and_greek_letters_stay_gsm7():
    assert sms_length("Grüße aus Köln, Ñandu à Øresund: ΔΦΓ £5 @ §1 ¿¡").encoding == "GSM-7"


def test_an_extension_character_counts_twice():
    assert sms_length("€" * 80).length == 160
    assert sms_length("€" * 80).segments == 1
    assert sms_length("{[~]}" + "a" * 151).segments == 2  # 161 septets


def test_an_extension_character_is_never_split_between_two_segments():
    # 306 septets would fit in 2 × 153, but the € cannot start at the last septet of the first segment.
    length = sms_length("a" * 152 + "€" + "a" * 152)
    assert (length.length, length.segments, length.segment_size) == (306, 3, 153)


@pytest.mark.parametrize(("text", "segments"), [("ł" * 70, 1), ("ł" * 71, 2), ("ł" * 134, 2), ("ł" * 135, 3)])
def test_one_character_outside_gsm7_makes_it_ucs2_at_70_and_67_per_segment(text, segments):
    length = sms_length(text)
    assert (length.encoding, length.length, length.segments) == ("UCS-2", len(text), segments)


def test_ucs2_names_the_characters_that_caused_it_once_each():
    length = sms_length("It’s ready – at ‘Café Łódź’ ’")
    assert length.encoding == "UCS-2"
    assert length.unicode_characters == ("’", "–", "‘", "Ł", "ó", "ź")


def test_an_emoji_counts_as_two_ucs2_units_and_is_never_split():
    assert sms_length("😀" * 35).length == 70
    assert sms_length("😀" * 35).segments == 1
    # 66 units, then an emoji that would straddle the 67-unit boundary goes whole into the next segment.
    assert sms_length("ł" * 66 + "😀" + "ł" * 66).segments == 3
