"""GSM-7 / UCS-2 splitting: examples at the limits, then properties over any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.channels.sms.segments import (
    GSM7,
    GSM7_BASIC,
    GSM7_EXTENSION,
    LIMITS,
    UCS2,
    char_cost,
    encoding_of,
    split,
    text_cost,
)


def test_gsm7_limits():
    assert split("a" * 160).count == 1
    parts = split("a" * 161)
    assert parts.encoding == GSM7
    assert [len(p) for p in parts.parts] == [153, 8]
    assert split("a" * 306).count == 2
    assert split("a" * 307).count == 3


def test_french_accents_of_gsm7_stay_gsm7_but_others_switch_to_ucs2():
    assert encoding_of("Vous êtes rappelé à 14 h") == UCS2  # ê is not in GSM 03.38
    assert encoding_of("Vous serez rappelé à 14 h, ça") == UCS2  # ç (lower case) is not either
    assert encoding_of("Votre numéro: 123. Très bien? à é è ù") == GSM7


def test_ucs2_limits():
    assert split("é" * 70 + "ê").encoding == UCS2
    assert split("ê" * 70).count == 1
    assert [len(p) for p in split("ê" * 71).parts] == [67, 4]


def test_extension_characters_count_double_and_are_never_cut():
    assert text_cost("€") == 2
    assert split("€" * 80).count == 1  # 160 septets
    # 162 septets: parts of 76 euros (152 septets: a 77th would be cut in two at 153).
    assert [len(p) for p in split("€" * 81).parts] == [76, 5]
    assert all(text_cost(p, GSM7) <= 153 for p in split("a" + "€" * 200).parts)
    assert split("a" + "€" * 80).parts[0] == "a" + "€" * 76


def test_emoji_take_two_units_and_are_never_cut():
    text = "a" + "😀" * 40
    parts = split(text)
    assert parts.encoding == UCS2
    assert parts.parts[0] == "a" + "😀" * 33  # 67 units
    assert "".join(parts.parts) == text


def test_empty_text_is_one_empty_part():
    assert split("").parts == ("",)


gsm_text = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
any_text = st.text(max_size=400)


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, any_text))
def test_parts_rebuild_the_text_and_respect_the_limits(text):
    parts = split(text)
    assert "".join(parts.parts) == text
    assert parts.encoding == encoding_of(text)
    single, each = LIMITS[parts.encoding]
    cost = text_cost(text, parts.encoding)
    if cost <= single:
        assert parts.count == 1
    else:
        assert parts.count >= 2
        for part in parts.parts:
            assert 0 < text_cost(part, parts.encoding) <= each
        # Greedy filling: no part could have taken the next part's first character.
        for part, following in zip(parts.parts, parts.parts[1:], strict=False):
            assert text_cost(part, parts.encoding) + char_cost(following[0], parts.encoding) > each


@settings(max_examples=200, deadline=None)
@given(gsm_text)
def test_gsm_only_text_is_never_ucs2(text):
    assert split(text).encoding == GSM7


@settings(max_examples=200, deadline=None)
@given(gsm_text, st.characters().filter(lambda c: c not in GSM7_BASIC and c not in GSM7_EXTENSION))
def test_one_foreign_character_switches_the_whole_text_to_ucs2(text, foreign):
    assert split(text + foreign).encoding == UCS2
