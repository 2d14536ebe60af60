"""Messages for bench/email_ingest.py: the real corpus and generated French/English mail.

* The real corpus: every regular file of `email_mime_edge_cases/*.tar.gz` and
  `email_spamassassin_publiccorpus/*.tar.gz`, read with `tarfile` (absent: skipped). A leading
  mbox `From ` envelope line is dropped (it is not part of the message). These messages are
  only ever handed to our own loopback SMTP server or written to a temporary folder.
* Generated mail: French (60%) or English, sentences from bench/corpus.py, accents in subjects,
  bodies and attachment names; about a third carry small PDFs/PNGs made in memory; about 15%
  are replies to an earlier generated message. A reply's threading headers are only known once
  the original has been ingested (Guichet threads on its own signed Message-IDs, never on a
  customer's: RELIABILITY E09), so replies are rendered in a second phase by `render_reply`.
"""

from __future__ import annotations

import hashlib
import random
import struct
import tarfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

from bench.corpus import DATASETS, Corpus, load_corpus, person_name

CORPUS_ARCHIVES = (
    "email_mime_edge_cases/*.tar.gz",
    "email_spamassassin_publiccorpus/*.tar.gz",
)
CORPUS_SHARE = 0.3  # at most this share of N comes from the real corpus
REPLY_SHARE = 0.15  # of the generated mail
ATTACHMENT_SHARE = 0.35
DOMAIN = "bench-mail.example.org"

FR_SUBJECTS = [
    "Carte bloquée à l'étranger",
    "Prélèvement non reconnu sur mon relevé",
    "Problème de connexion à l'espace client",
    "Demande de relevé d'identité bancaire",
    "Opposition sur ma carte égarée",
    "Virement reçu en double ? Réclamation",
    "Frais de tenue de compte : question",
    "Changement d'adresse après déménagement",
    "Échéancier du prêt immobilier",
    "Plafond de paiement trop bas pour mes achats",
]
EN_SUBJECTS = [
    "Card blocked abroad",
    "Unknown direct debit on my statement",
    "Cannot log in to online banking",
    "Request for bank details",
    "Lost card, please cancel",
    "Transfer received twice?",
    "Question about account fees",
    "Change of address",
    "Mortgage repayment schedule",
    "Payment limit too low",
]
FR_FILES = ["relevé_décembre", "pièce_d'identité", "justificatif_de_domicile", "capture_écran"]
EN_FILES = ["statement", "id_card", "proof of address", "screenshot"]


@dataclass
class Mail:
    """One message of the stream. `raw` is empty for a reply until `render_reply` fills it."""

    index: int
    kind: str  # "corpus", "new" or "reply"
    raw: bytes = b""
    source: str = ""  # corpus member name
    message_id: str = ""  # generated mail: without angle brackets
    sender: str = ""
    subject: str = ""
    language: str = ""
    text: str = ""
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    original: int | None = None  # reply: index of the generated message it answers
    answers_ack: bool = False  # reply: rendered as an answer to Guichet's acknowledgement


def _strip_envelope(data: bytes) -> bytes:
    if data.startswith(b"From "):
        end = data.find(b"\n")
        return data[end + 1 :] if end >= 0 else b""
    return data


def load_real_corpus(datasets: Path = DATASETS) -> list[tuple[str, bytes]]:
    """(member name, raw bytes) of every message file in the corpus archives, in a stable order."""
    found: list[tuple[str, bytes]] = []
    for pattern in CORPUS_ARCHIVES:
        for archive in sorted(datasets.glob(pattern)):
            try:
                with tarfile.open(archive, "r:gz") as tar:
                    for member in tar:
                        if not member.isfile() or member.size == 0:
                            continue
                        handle = tar.extractfile(member)
                        if handle is None:
                            continue
                        data = _strip_envelope(handle.read())
                        if data.strip():
                            found.append((f"{archive.name}:{member.name}", data))
            except (OSError, tarfile.TarError):
                continue
    return found


def tiny_pdf(rng: random.Random, title: str) -> bytes:
    """A small valid one-page PDF (a few KB) with some text."""
    lines = " ".join(f"({title} {i}) Tj" for i in range(rng.randint(20, 120)))
    stream = f"BT /F1 9 Tf 40 800 Td 11 TL {lines} ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def tiny_png(rng: random.Random) -> bytes:
    """A valid RGB PNG of noise, 16-96 px square (1-30 KB)."""
    side = rng.randint(16, 96)
    rows = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )


def _render(mail: Mail, to: str, date: datetime, headers: dict[str, str] | None = None) -> bytes:
    # Unfolded headers: Guichet quarantines a folded From header (reported; see bench/README).
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))
    message["From"] = mail.sender
    message["To"] = to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{mail.message_id}>"
    message["Content-Language"] = mail.language
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(mail.text)
    for filename, kind, data in mail.attachments:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def generate(
    n: int,
    *,
    seed: int,
    to: str,
    tag: str,
    real: list[tuple[str, bytes]] | None = None,
    corpus: Corpus | None = None,
) -> list[Mail]:
    """The stream of N messages: real corpus messages and generated ones, shuffled.

    Replies come after their original in the stream; their `raw` is filled by `render_reply`.
    `tag` makes generated Message-IDs and senders unique to one run.
    """
    rng = random.Random(seed)
    corpus = corpus or load_corpus()
    real = real if real is not None else load_real_corpus()
    real_count = min(len(real), round(n * CORPUS_SHARE))
    picked = sorted(rng.sample(range(len(real)), real_count)) if real_count else []
    generated = n - real_count
    replies = round(generated * REPLY_SHARE) if generated >= 4 else 0
    originals = generated - replies
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    stream: list[Mail] = [
        Mail(index=0, kind="corpus", raw=real[i][1], source=real[i][0]) for i in picked
    ]
    new_mails: list[Mail] = []
    for i in range(originals):
        language = "fr" if rng.random() < 0.6 else "en"
        first_index = rng.randrange(100_000)
        name = person_name(first_index)
        first = name.split()[0]
        text = _message_text(rng, language, corpus, first, name)
        subjects = FR_SUBJECTS if language == "fr" else EN_SUBJECTS
        local = (
            name.lower()
            .replace(" ", ".")
            .translate(str.maketrans("éèêëàâîïôöûüç'", "eeeeaaiioouuc-"))
        )
        mail = Mail(
            index=0,
            kind="new",
            message_id=make_msgid(idstring=f"{tag}.{i}", domain="client.example.net")[1:-1],
            sender=f"{name} <{local}.{tag}{i}@client.example.net>",
            subject=rng.choice(subjects) + ("" if rng.random() < 0.7 else f" ({i})"),
            language=language,
            text=text,
        )
        if rng.random() < ATTACHMENT_SHARE:
            names = FR_FILES if language == "fr" else EN_FILES
            for k in range(rng.choice((1, 1, 1, 2))):
                base = rng.choice(names)
                if rng.random() < 0.5:
                    mail.attachments.append(
                        (f"{base}_{k}.pdf", "application/pdf", tiny_pdf(rng, base))
                    )
                else:
                    mail.attachments.append((f"{base}_{k}.png", "image/png", tiny_png(rng)))
        mail.raw = _render(mail, to, start + timedelta(seconds=37 * i))
        new_mails.append(mail)
    stream.extend(new_mails)
    rng.shuffle(stream)
    for position, mail in enumerate(stream):
        mail.index = position
    for j in range(replies):
        original = new_mails[rng.randrange(len(new_mails))] if new_mails else None
        if original is None:
            break
        language = original.language
        name = original.sender.split(" <")[0]
        reply = Mail(
            index=len(stream),
            kind="reply",
            message_id=make_msgid(idstring=f"{tag}.r{j}", domain="client.example.net")[1:-1],
            sender=original.sender,
            subject=("Re: " if language == "en" else "RE : ") + original.subject,
            language=language,
            text=_message_text(rng, language, corpus, name.split()[0], name, 200, 800)
            + "\n\n"
            + (
                "Le 3 nov. 2026, le service client a écrit :\n"
                if language == "fr"
                else "On 3 Nov 2026, support wrote:\n"
            )
            + "\n".join("> " + line for line in original.text.splitlines()[:8]),
            original=original.index,
        )
        stream.append(reply)
    return stream


def _message_text(
    rng: random.Random,
    language: str,
    corpus: Corpus,
    first: str,
    name: str,
    low: int = 300,
    high: int = 1500,
) -> str:
    from bench.corpus import message_text

    return message_text(
        rng,
        kind="inbound",
        language=language,
        corpus=corpus,
        first=first,
        name=name,
        low=low,
        high=high,
    )


def render_reply(
    reply: Mail,
    original: Mail,
    to: str,
    *,
    in_reply_to: str,
    references: list[str],
    number: int | None = None,
) -> bytes:
    """The reply's bytes, as a mail client writes them when answering `in_reply_to`."""
    subject = reply.subject + (f" [#{number}]" if number else "")
    rendered = Mail(**{**reply.__dict__, "subject": subject})
    return _render(
        rendered,
        to,
        datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(seconds=reply.index),
        {"In-Reply-To": f"<{in_reply_to}>", "References": " ".join(f"<{r}>" for r in references)},
    )


def expected_keys(raws: list[bytes]) -> tuple[int, list[int]]:
    """Distinct dedupe keys (Guichet's rule: Message-ID, else SHA-256) and the duplicate indexes."""
    from guichet.channels.email.services import dedupe_key_for, message_id_of

    seen: set[str] = set()
    duplicates: list[int] = []
    for i, raw in enumerate(raws):
        key = dedupe_key_for(raw, message_id_of(raw))
        if key in seen:
            duplicates.append(i)
        seen.add(key)
    return len(seen), duplicates


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
