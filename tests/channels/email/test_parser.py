"""The email parser on hand-made fixtures, one per case in RELIABILITY E01, E05 to E08, E10, E11."""

from __future__ import annotations

import base64
import contextlib
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.channels.email.parser import (
    ParsedEmail,
    UnparseableEmail,
    decode_bytes,
    decode_header_text,
    parse_email,
    split_quoted,
    to_inbound,
)

FIXTURES = Path(__file__).parent / "fixtures"
ACCENTS = "é à ç œ €"
MB = 1024 * 1024


def parse(name: str, **kwargs: int) -> ParsedEmail:
    kwargs.setdefault("max_attachment_bytes", 10 * MB)
    return parse_email((FIXTURES / name).read_bytes(), **kwargs)


# --- charsets (E06) ---------------------------------------------------------------------------


def test_windows_1252_labelled_utf8_is_read_as_windows_1252() -> None:
    parsed = parse("cp1252_labelled_utf8.eml")
    assert (
        parsed.text == f"Bonjour, ma carte est bloquée depuis lundi : {ACCENTS}, c\u2019est urgent."
    )
    assert "\ufffd" not in parsed.text


def test_valid_utf8_next_to_stray_cp1252_bytes_keeps_both() -> None:
    assert decode_bytes("é".encode() + b" \xe9", "utf-8") == "é é"


def test_encoded_words_split_mid_character_are_joined() -> None:
    parsed = parse("split_encoded_word.eml")
    assert parsed.subject == "Carte bloquée €"
    assert parsed.from_name == "Chloé Œuvrard"


def test_french_accents_round_trip_everywhere() -> None:
    parsed = parse("french_accents.eml")
    assert parsed.subject == f"Réclamation : {ACCENTS}"
    assert parsed.from_name == "Chloé Œuvrard"
    assert parsed.from_address == "chloe.oeuvrard@example.org"
    assert parsed.text == f"Bonjour, voici ma réclamation : {ACCENTS}."
    assert [a.filename for a in parsed.attachments] == [
        f"facture {ACCENTS}.pdf",  # RFC 2231 filename*=utf-8''
        "reçu n° 42.pdf",  # RFC 2231 continuations
        "déclaration.pdf",  # RFC 2047 in a quoted filename (not standard, common)
    ]
    assert all(a.content.startswith(b"%PDF") for a in parsed.attachments)
    assert parsed.cc == ("zoe@example.org", "bruno@example.org")
    assert parsed.language == "fr"


def test_eight_bit_headers_are_read_as_utf8() -> None:
    parsed = parse("eight_bit_headers.eml")
    assert parsed.subject == "Problème de carte — urgent €"
    assert parsed.from_name == "Zoé Lefèvre"


def test_unknown_charsets_never_crash() -> None:
    parsed = parse("unknown_charsets.eml")
    assert parsed.subject.startswith("caf\ufffd et ")  # x-unknown: U+FFFD, never a crash
    assert "abc \ufffd\ufffd def" in parsed.text
    assert "Ti" in parsed.text  # windows-1258 is a real codec


@pytest.mark.parametrize("charset", ["x-unknown", "rot13", "base64", "zlib", "idna", "", "???"])
def test_any_charset_label_decodes(charset: str) -> None:
    assert isinstance(decode_bytes(b"caf\xe9 \xff", charset), str)


def test_encoded_word_with_broken_base64() -> None:
    assert decode_header_text("=?utf-8?B?w6k!!!?= ok") == "é ok"


# --- structure (E05, E07) ---------------------------------------------------------------------


def test_missing_final_boundary_keeps_what_is_there() -> None:
    parsed = parse("no_final_boundary.eml")
    assert parsed.text == "Le texte est là."
    assert parsed.attachments[0].filename == "tronque.bin"
    assert "CloseBoundaryNotFoundDefect" in parsed.defects


def test_fifty_deep_nesting_is_cut_at_the_depth_limit() -> None:
    parsed = parse("nested_50.eml")
    assert parsed.subject == "Nested"
    assert any("nesting" in defect for defect in parsed.defects)


def test_thousand_deep_nesting_is_unparseable_or_parsed_never_a_crash() -> None:
    depth = 1000
    raw = b"From: a@example.org\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for i in range(1, depth):
        raw += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i - 1, i)
    try:
        parse_email(raw, max_attachment_bytes=MB)
    except UnparseableEmail as error:
        assert "nested" in str(error)


def test_hostile_headers_backslash_nul_bad_content_type_huge_header() -> None:
    parsed = parse("hostile_headers.eml")
    assert parsed.subject == "back\\slash \\\\ and nul here"
    assert parsed.text == "Body text."
    assert parsed.from_address == "client@example.org"


def test_oversize_attachment_is_set_aside_not_kept() -> None:
    big = base64.encodebytes(b"\0" * (2 * MB)).decode()
    raw = (
        "From: client@example.org\nSubject: gros\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="x"\n\n--x\nContent-Type: text/plain\n\nVoici.\n'
        "--x\nContent-Type: application/pdf\n"
        'Content-Disposition: attachment; filename="gros.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{big}\n"
        "--x\nContent-Type: text/plain\n"
        'Content-Disposition: attachment; filename="petit.txt"\n\nok\n--x--\n'
    ).encode()
    parsed = parse_email(raw, max_attachment_bytes=MB)
    assert [a.filename for a in parsed.attachments] == ["petit.txt"]
    assert parsed.oversize[0][0] == "gros.pdf"
    assert parsed.oversize[0][1] >= 2 * MB
    capped = parse_email(raw, max_attachment_bytes=10 * MB, max_total_bytes=MB)
    assert [name for name, _size in capped.oversize] == ["gros.pdf"]


@pytest.mark.parametrize("raw", [b"", b"   \n", b"\xef\xbb\xbf", b"no headers at all, just words"])
def test_not_an_email_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableEmail):
        parse_email(raw, max_attachment_bytes=MB)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_any_bytes_parse_or_raise_unparseable(raw: bytes) -> None:
    with contextlib.suppress(UnparseableEmail):
        parse_email(raw, max_attachment_bytes=MB)


_HEADER_LINES = st.sampled_from(
    [
        b"From: =?utf-8?q?Zo=C3?= <zoe@example.org>",
        b"From: alice@evil.example)<bob@client.example>",
        b'To: a@b, , "x" <y@z>, <>',
        b"Subject: =?x-unknown?B?////?= \xe9\xff",
        b"Content-Type: multipart/mixed; boundary=b",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b",
        b'Content-Type: text/plain; charset="utf-16"',
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: attachment; filename*0*=utf-8''%C3; filename*1*=%A9",
        b"Return-Path: <>",
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
        b"Message-ID: <<>>",
        b"References: <a@b> <c@d",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_HEADER_LINES, max_size=8),
    st.lists(
        st.sampled_from([b"--b", b"--b--", b"Content-Type: message/rfc822", b"", b"\xe9=C3=A9"]),
        max_size=12,
    ),
    st.binary(max_size=300),
)
def test_mime_shaped_garbage_parses_or_raises_unparseable(
    headers: list[bytes], body: list[bytes], tail: bytes
) -> None:
    raw = b"\n".join([b"From: client@example.org", *headers, b"", *body]) + tail
    try:
        parsed = parse_email(raw, max_attachment_bytes=MB)
    except UnparseableEmail:
        return
    assert isinstance(parsed.text, str)
    if parsed.from_address:
        to_inbound(parsed, raw_ref="x", team_id=None)


# --- HTML (E08, E11) --------------------------------------------------------------------------


def test_html_is_sanitised_and_never_loads_remote_images() -> None:
    parsed = parse("html_hostile.eml")
    html = parsed.html.lower()
    for forbidden in ("<script", "onerror", "onload", "javascript:", "<img", "<svg", "<iframe"):
        assert forbidden not in html
    assert "tracker.example" not in html
    assert "<b>facture</b>" in parsed.html
    assert "[Logo de la banque]" in parsed.html  # the alt text replaces the image
    assert 'href="https://example.net/aide"' in parsed.html
    assert parsed.text.startswith("Voir la facture ci-jointe.")  # text made from the HTML
    assert [(a.filename, a.declared_content_type) for a in parsed.attachments] == [
        ("logo.png", "image/png")  # the cid: image
    ]


def test_deeply_nested_html_and_a_long_line_stay_fast() -> None:
    html = "<div>" * 5000 + "x" * 1_000_000 + "</div>" * 5000
    raw = f"From: a@example.org\nContent-Type: text/html\n\n{html}\n".encode()
    parsed = parse_email(raw, max_attachment_bytes=MB)
    assert "x" * 1000 in parsed.text


# --- quoted history ---------------------------------------------------------------------------


def test_outlook_reply_in_french() -> None:
    parsed = parse("outlook_reply_fr.eml")
    assert parsed.text == "Merci, la carte fonctionne à nouveau.\n\nCordialement,\nJean"
    assert parsed.quoted_text.startswith("-----Message d'origine-----")
    assert "réessayer" in parsed.quoted_text


def test_outlook_reply_in_english_with_underscore_separator() -> None:
    parsed = parse("outlook_reply_en.eml")
    assert parsed.text == "It works now, thanks."
    assert "could you try again" in parsed.quoted_text
    assert parsed.language == "en"


def test_outlook_header_block_in_french() -> None:
    parsed = parse("outlook_header_block_fr.eml")
    assert parsed.text == "Voir ci-dessous."
    assert parsed.quoted_text.startswith("De : Service Client")


def test_gmail_reply_in_french() -> None:
    parsed = parse("gmail_reply_fr.eml")
    assert parsed.text == "Merci beaucoup, c'est réglé."
    assert parsed.quoted_text.startswith("Le mar. 4 juin 2024 à 17:02")
    assert "<blockquote>" in parsed.html


def test_gmail_reply_in_english_with_wrapped_attribution() -> None:
    parsed = parse("gmail_reply_en.eml")
    assert parsed.text == "Thanks, that fixed it."
    assert "> Hello, could you try again?" in parsed.quoted_text


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Oui.\n\n> Question ?\n> Suite", "Oui."),
        ("Le 3 juin 2024 à 10:00, Jean a écrit :\n> Question ?\nRéponse.", None),  # inline
        ("> tout est cité", None),  # folding would leave nothing
        ("Pas de citation.", None),
        ("Réponse.\nOn Mon, 3 Jun 2024, Jane <j@x.org> wrote:\n> Q", "Réponse."),
        ("Réponse.\nLe lun. 3 juin 2024 à 10:00, Jean a\u00a0écrit\u202f:\n> Q", "Réponse."),
        ("Fwd.\n---------- Forwarded message ---------\nFrom: a", "Fwd."),
    ],
)
def test_split_quoted(text: str, new: str | None) -> None:
    result, quoted = split_quoted(text)
    if new is None:
        assert (result, quoted) == (text, "")
    else:
        assert result == new
        assert quoted


# --- automatic mail (E01, RFC 3834) -----------------------------------------------------------


def test_out_of_office_is_auto_submitted() -> None:
    assert parse("out_of_office.eml").auto_submitted == "auto-submitted"


def test_list_mail_is_not_from_a_person() -> None:
    assert parse("list_mail.eml").auto_submitted in ("precedence", "list")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated", "auto-submitted"),
        ("Auto-Submitted: auto-replied; owner-email=x@y.org", "auto-submitted"),
        ("Precedence: bulk", "precedence"),
        ("Precedence: junk", "precedence"),
        ("List-Id: <a.b.example>", "list"),
        ("List-Unsubscribe: <mailto:x@y.org>", "list"),
        ("Return-Path: <>", "empty-return-path"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-Autorespond: yes", "x-autoreply"),
        ("X-Auto-Response-Suppress: OOF, DR", "x-auto-response-suppress"),
        ("X-Auto-Response-Suppress: All", "x-auto-response-suppress"),
    ],
)
def test_auto_submitted_headers(header: str, reason: str) -> None:
    raw = f"From: client@example.org\n{header}\nSubject: Bonjour\n\nTexte.\n".encode()
    assert parse_email(raw, max_attachment_bytes=MB).auto_submitted == reason


@pytest.mark.parametrize(
    "raw",
    [
        "From: client@example.org\nAuto-Submitted: no\nSubject: Bonjour\n\nTexte.\n",
        "From: client@example.org\nReturn-Path: <client@example.org>\nSubject: Re: x\n\nT.\n",
        "From: client@example.org\nX-Auto-Response-Suppress: DR, RN\nSubject: x\n\nT.\n",
    ],
)
def test_mail_from_a_person_is_not_auto_submitted(raw: str) -> None:
    assert parse_email(raw.encode(), max_attachment_bytes=MB).auto_submitted == ""


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.org", "postmaster@example.org"])
def test_mailer_daemon_is_not_a_person(sender: str) -> None:
    raw = f"From: {sender}\nSubject: x\n\nT.\n".encode()
    assert parse_email(raw, max_attachment_bytes=MB).auto_submitted == "mailer-daemon"


# --- delivery-status notifications ------------------------------------------------------------


def test_dsn_names_the_bounced_message() -> None:
    parsed = parse("dsn_bounce.eml")
    assert parsed.auto_submitted
    assert parsed.return_path == ""
    assert parsed.dsn is not None
    assert parsed.dsn.original_message_id == (
        "guichet.1042.r.0123456789abcdef.00112233445566778899@guichet.example"
    )
    assert parsed.dsn.recipient == "nobody@client.example"
    assert parsed.dsn.action == "failed"
    assert parsed.dsn.status == "5.1.1"
    assert parsed.dsn.diagnostic.startswith("550 5.1.1 <nobody@client.example>: Recipient")
    assert "  " not in parsed.dsn.diagnostic


def test_a_person_mail_has_no_dsn() -> None:
    assert parse("french_accents.eml").dsn is None


# --- addresses and ids (E10) ------------------------------------------------------------------


def test_ambiguous_from_is_not_guessed() -> None:
    parsed = parse("ambiguous_from.eml")
    assert parsed.from_address == ""
    with pytest.raises(UnparseableEmail):
        to_inbound(parsed, raw_ref="x", team_id=None)


def test_malformed_cc_list_keeps_the_readable_addresses_and_says_so() -> None:
    raw = b'From: c@example.org\nCc: a@example.org, , "x y" <>, <b@example.org>\n\nT.\n'
    parsed = parse_email(raw, max_attachment_bytes=MB)
    assert parsed.cc == ("a@example.org", "b@example.org")
    assert any(defect.startswith("Cc:") for defect in parsed.defects)


def test_threading_headers() -> None:
    parsed = parse("outlook_reply_fr.eml")
    assert parsed.message_id == "outlook-fr@example.org"
    assert parsed.in_reply_to == ("guichet.1042.r.aaaa.bbbb@guichet.example",)
    assert parsed.references == ("first@example.org", "guichet.1042.r.aaaa.bbbb@guichet.example")
    assert parsed.date is not None and parsed.date.utcoffset() is not None


# --- to the conversation layer ----------------------------------------------------------------


def test_to_inbound_keeps_the_new_part_as_text_and_the_history_in_html() -> None:
    parsed = parse("outlook_reply_fr.eml")
    inbound = to_inbound(parsed, raw_ref="inbound-email:7", team_id=3)
    assert inbound.channel == inbound.sender_kind == "email"
    assert inbound.sender_value == "jean.dupont@example.org"
    assert inbound.sender_name == "Dupont, Jean"
    assert inbound.external_id == "outlook-fr@example.org"
    assert inbound.in_reply_to == (
        "guichet.1042.r.aaaa.bbbb@guichet.example",
        "first@example.org",
    )
    assert inbound.text == parsed.text
    assert "<blockquote>" in inbound.html and "réessayer" in inbound.html
    assert inbound.language == "fr" and inbound.team_id == 3
    assert inbound.source_ref == "inbound-email:7"


def test_to_inbound_external_id_and_subject_length() -> None:
    raw = ("From: c@example.org\nSubject: " + "é" * 400 + "\n\nT.\n").encode()
    inbound = to_inbound(
        parse_email(raw, max_attachment_bytes=MB),
        raw_ref="r",
        team_id=None,
        external_id="sha256:ab",
    )
    assert inbound.external_id == "sha256:ab"
    assert len(inbound.subject) == 255
    assert inbound.html == ""  # no HTML and no history: text only


def test_html_nested_too_deep_falls_back_to_text_quickly() -> None:
    html = "<div>" * 100_000 + "<script>alert(1)</script>Bonjour"
    raw = f"From: a@example.org\nContent-Type: text/html\n\n{html}\n".encode()
    started = time.monotonic()
    parsed = parse_email(raw, max_attachment_bytes=MB)
    assert time.monotonic() - started < 5
    assert parsed.html == ""
    assert parsed.text == "Bonjour"
    assert any("HTML" in defect for defect in parsed.defects)


def test_a_content_type_with_thousands_of_parameters_is_cheap() -> None:
    params = "; ".join(f"p{i}=v" for i in range(30_000))
    raw = (
        "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        f"Content-Type: application/pdf; {params}\n"
        f"Content-Disposition: attachment; {params}; filename=x.pdf\n\n%PDF\n--b--\n"
    ).encode()
    started = time.monotonic()
    parse_email(raw, max_attachment_bytes=MB)
    assert time.monotonic() - started < 2


def test_a_non_ascii_local_part_is_not_a_usable_sender() -> None:
    raw = "From: Marilù <marilù@esempio-università.it>\n\nCiao\n".encode()
    assert parse_email(raw, max_attachment_bytes=MB).from_address == ""
    idn = "From: Zoé <zoe@exemple-université.fr>\n\nSalut\n".encode()
    assert parse_email(idn, max_attachment_bytes=MB).from_address == "zoe@exemple-université.fr"


@pytest.mark.parametrize(
    "from_header",
    [
        b"From:\r\n =?utf-8?q?Fran=C3=A7oise?= Simon <fs@example.net>",
        b"From: Francoise Simon\r\n <fs@example.net>",
        b"From: Francoise Simon\n\t<fs@example.net>",
    ],
)
def test_a_folded_from_header_is_read(from_header: bytes) -> None:
    raw = from_header + b"\r\nTo: cartes@banque.test\r\nSubject: Bonjour\r\n\r\nMerci.\r\n"
    parsed = parse_email(raw, max_attachment_bytes=MB)
    assert parsed.from_address == "fs@example.net"
    assert parsed.from_name.endswith("Simon")
