"""Signed Message-IDs and subject tags (RELIABILITY E09)."""

from __future__ import annotations

from typing import Any

import pytest

from guichet.channels.email.threading import (
    conversation_number_from_message_id,
    conversation_number_from_references,
    conversation_number_from_subject,
    make_message_id,
    subject_tag,
)


def test_a_message_id_we_made_gives_its_conversation() -> None:
    message_id = make_message_id(conversation_number=1042, domain="guichet.example")
    assert message_id.startswith("guichet.1042.r.")
    assert message_id.endswith("@guichet.example")
    assert conversation_number_from_message_id(message_id) == 1042
    assert conversation_number_from_message_id(f"<{message_id}>") == 1042


def test_each_message_id_is_new_and_the_kind_is_kept() -> None:
    first = make_message_id(conversation_number=7, domain="x.example", kind="a")
    second = make_message_id(conversation_number=7, domain="x.example", kind="a")
    assert first != second
    assert ".7.a." in first
    assert conversation_number_from_message_id(second) == 7


def _forgeries(message_id: str) -> list[str]:
    local, domain = message_id.split("@")
    left, digest = local.rsplit(".", 1)
    flipped = "1" if digest[-1] == "0" else "0"
    other_number = local.replace("guichet.1042.", "guichet.1043.", 1)
    return [
        f"{left}.{digest[:-1]}{flipped}@{domain}",  # one digit of the HMAC changed
        f"{other_number}@{domain}",  # another conversation, same HMAC
        f"{left}.{digest[:-2]}@{domain}",  # truncated HMAC
        f"{left}.@{domain}",
        f"{left}@{domain}",
        local,  # no domain
        "",
        "guichet.1042.r.0123456789abcdef.00112233445566778899@guichet.example",
        "<garbage>",
        "x" * 5000,
    ]


def test_forged_message_ids_give_nothing() -> None:
    message_id = make_message_id(conversation_number=1042, domain="guichet.example")
    for forged in _forgeries(message_id):
        assert conversation_number_from_message_id(forged) is None, forged


def test_a_message_id_signed_with_another_key_gives_nothing(settings: Any) -> None:
    settings.SECRET_KEY = "another key entirely, from another installation"
    forged = make_message_id(conversation_number=1042, domain="guichet.example")
    settings.SECRET_KEY = "our own key, long and random enough for the tests"
    assert conversation_number_from_message_id(forged) is None


def test_a_rotated_key_keeps_old_threads(settings: Any) -> None:
    settings.SECRET_KEY = "the old key, before the rotation of the secrets"
    old = make_message_id(conversation_number=5, domain="guichet.example")
    settings.SECRET_KEY = "the new key, after the rotation of the secrets"
    settings.SECRET_KEY_FALLBACKS = ["the old key, before the rotation of the secrets"]
    assert conversation_number_from_message_id(old) == 5


def test_references_give_the_first_verified_number() -> None:
    ours = make_message_id(conversation_number=31, domain="guichet.example")
    forged = make_message_id(conversation_number=99, domain="guichet.example")[:-20] + "0" * 20
    ids = ["someone@else.example", forged, ours, "guichet.1.r.00000000.0000@x"]
    assert conversation_number_from_references(ids) == 31
    assert conversation_number_from_references([]) is None
    assert conversation_number_from_references(["a@b", forged]) is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"conversation_number": 0, "domain": "x.example"}, ValueError),
        ({"conversation_number": 1, "domain": "x.example", "kind": "R!"}, ValueError),
        ({"conversation_number": 1, "domain": "bad domain"}, ValueError),
        ({"conversation_number": True, "domain": "x.example"}, TypeError),
    ],
)
def test_make_message_id_refuses_bad_input(kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        make_message_id(**kwargs)


def test_subject_tag_round_trip() -> None:
    assert subject_tag(1042) == "[#1042]"
    assert conversation_number_from_subject("Re: [#1042] Carte bloquée") == 1042
    assert conversation_number_from_subject("RE: TR: [# 1042 ] x [#1042]") == 1042


@pytest.mark.parametrize(
    "subject",
    [
        "Carte bloquée",
        "#1042",
        "[1042]",
        "[#0]",
        "[#abc]",
        "Ticket Received - [#117904] Re: [#1042]",  # two helpdesks' tags: ambiguous
        "",
    ],
)
def test_subject_without_a_single_tag_gives_nothing(subject: str) -> None:
    assert conversation_number_from_subject(subject) is None
