"""Raw email bytes to a `ParsedEmail`, then to the `InboundMessage` the conversation layer takes.

One parser for every inbound path (SMTP/LMTP, IMAP, `import_mail`). It never raises anything but
`UnparseableEmail`, whose message says why; the caller then quarantines the raw bytes
(RELIABILITY E05). The design, briefly:

* The MIME structure comes from the standard library `email` parser, which tolerates a missing
  final boundary, bad Content-Types and 8-bit bytes (it records defects). It runs with
  `policy.compat32`: with `policy.default` the parser itself builds header objects for every
  Content-Type, and one header with thousands of parameters took 8 s (20,000 parts: 4 s), against
  0.01 s and 0.2 s here (E08). Headers are then decoded here from their raw values, each cut to a
  bounded length; addresses go through `policy.default`'s strict RFC 5322 parser (E10), never
  `getaddresses`. Everything that can raise on hostile input is read defensively.
* Text is decoded with the declared charset; UTF-8 (or US-ASCII) that is not valid UTF-8 is
  almost always Windows-1252, so the invalid bytes are read as Windows-1252 instead of becoming
  U+FFFD. Unknown charsets fall back to UTF-8 with U+FFFD. RFC 2047 encoded words are joined
  before decoding, so a character split across two words survives (E06).
* The tree is walked without recursion, at most `MAX_DEPTH` levels and `MAX_PARTS` parts; deeper
  or further parts are ignored with a note in `defects`. A part larger than the attachment cap is
  measured from its encoded length and never decoded: it is listed in `oversize` (E07).
* HTML is sanitised with nh3 (`sanitise_html`); images are replaced by their alt text before,
  so no remote image is ever loaded, and `cid:` images arrive as attachments (E11).
* Quoted history ("On … wrote:", "Le … a écrit :", ">" lines, Outlook "-----Original Message-----"
  and "From:/Sent:" or "De :/Envoyé :" blocks) is split from the new part into `quoted_text`.
* `auto_submitted` says why the mail must never get an automatic answer (RFC 3834, E01), and
  `dsn` holds what a delivery-status notification reports about the mail it returns.

`to_inbound` keeps the message's text to the new part (search, previews and notifications are not
cluttered by history) and never loses the history: an HTML mail keeps its full sanitised HTML,
and a plain-text mail with history gets an HTML version with the history in a `<blockquote>`,
which the conversation view shows folded under the new part.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import html as html_lib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from guichet.conversations.content import clean_text, html_to_text, safe_filename, sanitise_html
from guichet.conversations.types import InboundAttachment, InboundMessage

__all__ = [
    "DeliveryStatus",
    "ParsedEmail",
    "UnparseableEmail",
    "parse_email",
    "to_inbound",
]

MAX_DEPTH = 20
MAX_PARTS = 500
MAX_HEADER_CHARS = 16_384  # one header value; longer ones are cut before any parsing
MAX_SUBJECT_CHARS = 255  # the conversation's subject column
MAX_IDS = 100
_NOT_A_PERSON_LOCALS = {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster"}
_NO_REPLY_LOCALS = {"noreply", "no-reply", "donotreply", "do-not-reply", "no_reply"}
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|out of (the )?office|réponse automatique"
    r"|absence du bureau|abwesenheitsnotiz|autosvar|respuesta automática)\b",
    re.IGNORECASE,
)


class UnparseableEmail(Exception):
    """The bytes cannot be read as an email: the caller quarantines them with this message."""


@dataclass(frozen=True)
class DeliveryStatus:
    """What a delivery-status notification (RFC 3464) says about the message it returns."""

    original_message_id: str
    recipient: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_address: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    return_path: str | None
    date: datetime | None
    text: str
    quoted_text: str
    html: str
    attachments: tuple[InboundAttachment, ...]
    oversize: tuple[tuple[str, int], ...]
    auto_submitted: str
    dsn: DeliveryStatus | None
    language: str
    # What was odd but survivable (ambiguous From, parts too deep…), for the admin view.
    defects: tuple[str, ...] = field(default=())


# --- charsets ---------------------------------------------------------------------------------


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read the bytes UTF-8 refused as Windows-1252 (U+FFFD if undefined)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chunk = error.object[error.start : error.end]
    return chunk.decode("cp1252", errors="replace"), error.end


codecs.register_error("guichet-cp1252", _cp1252_fallback)

_UTF8_LABELS = {"utf-8", "utf8", "us-ascii", "ascii", "unicode-1-1-utf-8", ""}
# WHATWG: these labels mean Windows-1252 in practice (0x80-0x9F are € œ … not C1 controls).
_CP1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252"}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Best-effort text from bytes in a declared charset: never raises."""
    label = (charset or "").strip().strip("\"'").lower().split("*", 1)[0][:40]
    if label in _CP1252_LABELS:
        return data.decode("cp1252", errors="replace")
    if label not in _UTF8_LABELS:
        try:
            codec = codecs.lookup(label)
            if getattr(codec, "_is_text_encoding", True):
                return data.decode(codec.name, errors="replace")
        except (LookupError, ValueError, TypeError):
            pass
        except Exception:  # noqa: S110 - a codec that fails on hostile bytes: use UTF-8 below
            pass
        return data.decode("utf-8", errors="replace")
    return data.decode("utf-8", errors="guichet-cp1252")


# --- headers ----------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([QqBb])\?([^?\s]*)\?=")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")


def _raw_to_str(value: object) -> str:
    """A raw header value from the parser: 8-bit bytes come back as surrogate escapes."""
    if not isinstance(value, str):
        value = str(value)
    value = value[:MAX_HEADER_CHARS]
    if any("\udc80" <= char <= "\udcff" for char in value):
        try:
            return decode_bytes(value.encode("utf-8", errors="surrogateescape"), "utf-8")
        except UnicodeError:
            return value.encode("utf-8", errors="replace").decode("utf-8", errors="replace")
    return value


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding.lower() == "q":
        data = bytearray()
        i = 0
        raw = text.replace("_", " ")
        while i < len(raw):
            char = raw[i]
            if char == "=" and _HEX2.fullmatch(raw[i + 1 : i + 3]):
                data.append(int(raw[i + 1 : i + 3], 16))
                i += 3
                continue
            data.extend(char.encode("utf-8", errors="replace"))
            i += 1
        return bytes(data)
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


def decode_header_text(value: object) -> str:
    """An unstructured header value (Subject, a display name) as text: RFC 2047, 8-bit, unfolded.

    Adjacent encoded words in the same charset are joined before decoding, so a character split
    between two words comes out whole.
    """
    text = _raw_to_str(value)
    pieces: list[str] = []
    pending: list[tuple[str, bytes]] = []  # encoded words waiting to be joined

    def flush() -> None:
        index = 0
        while index < len(pending):
            charset, data = pending[index]
            index += 1
            while index < len(pending) and pending[index][0] == charset:
                data += pending[index][1]
                index += 1
            pieces.append(decode_bytes(data, charset))
        pending.clear()

    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        if between and not (pending and between.isspace()):
            flush()
            pieces.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        pending.append((charset, _word_bytes(match.group(2), match.group(3))))
        position = match.end()
    flush()
    pieces.append(text[position:])
    decoded = _LINE_BREAKS.sub(" ", "".join(pieces))
    return clean_text(decoded, MAX_HEADER_CHARS).strip()


def _raw_header(message: Message, name: str) -> str | None:
    """The first raw value of a header (None when absent), without the parser's header objects."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if isinstance(key, str) and key.lower() == wanted:
            # Unfold (RFC 5322 §2.2.3): a long From is legally written over several lines.
            return _FOLD.sub(" ", _raw_to_str(value))
    return None


_FOLD = re.compile(r"\r?\n(?=[ \t])")


_MSG_ID = re.compile(r"<([^<>\s]{1,250})>")
_VALID_ADDR = re.compile(r"[^@\s<>()\[\]\\,;:\"]{1,64}@[A-Za-z0-9\-.\u0080-\uffff]{1,253}")


def _message_ids(value: str | None, limit: int = MAX_IDS) -> tuple[str, ...]:
    if not value:
        return ()
    found = _MSG_ID.findall(value)
    if not found:  # some mailers omit the angle brackets
        found = [token for token in value.split() if "@" in token and len(token) <= 250]
    ids: list[str] = []
    for raw in found:
        cleaned = clean_text(raw.strip(), 250)
        if cleaned and cleaned not in ids:
            ids.append(cleaned)
    return tuple(ids[-limit:])


def _valid_address(address: Address) -> str:
    try:
        addr = address.addr_spec
    except Exception:
        return ""
    addr = clean_text(addr).strip().lower()
    if addr.startswith('"') or not _VALID_ADDR.fullmatch(addr):
        return ""
    try:  # the customer layer stores only what Django accepts (no non-ASCII local part)
        validate_email(addr)
    except ValidationError:
        return ""
    return addr


def _address_header(value: str | None, defects: list[str], name: str) -> tuple[list[str], bool]:
    """(valid addresses, clean): clean is False when some entry could not be read.

    Uses the header registry's strict RFC 5322 parser, not `getaddresses` (CVE-2023-27043).
    """
    if not value:
        return [], True
    try:
        header = policy.default.header_factory(name, value)
        addresses = list(header.addresses)  # type: ignore[attr-defined]
        header_defects = list(header.defects)
    except Exception as error:  # the registry has raised on hostile input in the past
        defects.append(f"{name}: unreadable ({type(error).__name__})")
        return [], False
    valid = [addr for addr in (_valid_address(a) for a in addresses) if addr]
    invalid = len(valid) != len(addresses) or any(
        type(defect).__name__ == "InvalidHeaderDefect" for defect in header_defects
    )
    if invalid:
        defects.append(f"{name}: some addresses could not be read")
    result: list[str] = []
    for addr in valid:
        if addr not in result:
            result.append(addr)
    return result, not invalid


_ANGLE_FORM = re.compile(r"^\s*(?P<phrase>.*?)\s*<[^<>]*>\s*$", re.DOTALL)


def _from_header(value: str | None, defects: list[str]) -> tuple[str, str]:
    """(lower-cased address, display name). "" for an absent, invalid or ambiguous From (E10)."""
    if not value:
        return "", ""
    addresses, clean = _address_header(value, defects, "From")
    if len(addresses) != 1 or not clean:
        if value.strip():
            defects.append("From: not exactly one readable address")
        return "", ""
    name = ""
    phrase = _ANGLE_FORM.match(value)
    if phrase:  # decode the phrase ourselves: encoded words split mid-character survive
        raw_name = phrase.group("phrase").strip()
        if len(raw_name) >= 2 and raw_name[0] == raw_name[-1] == '"':
            raw_name = re.sub(r"\\(.)", r"\1", raw_name[1:-1])
        name = decode_header_text(raw_name)
    else:
        comment = re.search(r"\(([^()]*)\)", value)
        if comment:
            name = decode_header_text(comment.group(1))
    return addresses[0], name.strip().strip('"').strip()[:200]


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    if re.fullmatch(r"<\s*>|", stripped):
        return ""
    match = re.search(r"<([^<>]*)>", stripped)
    inner = (match.group(1) if match else stripped).strip().lower()
    return inner if _VALID_ADDR.fullmatch(inner) else clean_text(inner, 254)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip()[:200])
    except Exception:
        return None
    if parsed is None or not 1970 <= parsed.year <= 9999:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _language(*values: str | None) -> str:
    for value in values:
        if not value:
            continue
        tag = value.split(",", 1)[0].strip().split("-", 1)[0].split("_", 1)[0].lower()
        if tag in dict(settings.LANGUAGES):  # only a language we can answer in
            return tag
    return ""


# --- auto-submitted (RFC 3834) ----------------------------------------------------------------


def _auto_submitted_reason(
    message: Message, *, from_address: str, return_path: str | None, subject: str
) -> str:
    auto = _raw_header(message, "Auto-Submitted")
    if auto is not None and auto.split(";", 1)[0].strip().lower() not in ("no", ""):
        return "auto-submitted"
    if _content_type(message) == "multipart/report":
        report = (_param(message, "report-type") or "").lower()
        return "dsn" if report in ("delivery-status", "") else "report"
    if return_path == "":
        return "empty-return-path"
    local = from_address.rsplit("@", 1)[0]
    if local in _NOT_A_PERSON_LOCALS:
        return "mailer-daemon"
    precedence = (_raw_header(message, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return "precedence"
    if _raw_header(message, "List-Id") is not None:
        return "list"
    if _raw_header(message, "List-Unsubscribe") is not None:
        return "list"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated", "X-AutoReply-From"):
        found = _raw_header(message, name)
        if found is not None and found.strip().lower() not in ("no", "false", "0"):
            return "x-autoreply"
    suppress = (_raw_header(message, "X-Auto-Response-Suppress") or "").lower()
    if {token.strip() for token in suppress.split(",")} & {"all", "oof", "autoreply"}:
        return "x-auto-response-suppress"
    if local in _NO_REPLY_LOCALS:
        return "no-reply-address"
    if _AUTO_REPLY_SUBJECT.match(subject):
        return "auto-reply-subject"
    return ""


# --- MIME parts -------------------------------------------------------------------------------


MAX_MIME_HEADER_CHARS = 4096  # Content-Type/-Disposition: long ones cost CPU, never meaning


def _mime_headers(part: Message) -> Message:
    """A copy of the part's Content-Type and Content-Disposition, decoded and cut short.

    Parameters are then read from this copy: 8-bit filenames come out as text, and a
    Content-Type with thousands of parameters cannot burn the CPU (E08).
    """
    copy = Message()
    copy.set_default_type(part.get_default_type())
    for name in ("Content-Type", "Content-Disposition"):
        value = _raw_header(part, name)
        if value is not None:
            copy[name] = _LINE_BREAKS.sub(" ", value[:MAX_MIME_HEADER_CHARS])
    return copy


def _content_type(part: Message) -> str:
    try:
        return _mime_headers(part).get_content_type().lower()[:100]
    except Exception:
        return "application/octet-stream"


def _param(part: Message, name: str, header: str = "content-type") -> str | None:
    try:
        value = _mime_headers(part).get_param(name, header=header)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # an RFC 2231 (charset, language, value) triple
        charset, _language_tag, raw = value
        try:
            return decode_bytes(str(raw).encode("latin-1", errors="replace"), charset or "utf-8")
        except Exception:
            return str(raw)
    return str(value)


def _filename(part: Message) -> str:
    try:
        raw = _mime_headers(part).get_filename() or _param(part, "name") or ""
    except Exception:
        raw = _param(part, "filename", "content-disposition") or _param(part, "name") or ""
    return decode_header_text(raw) if raw else ""


def _disposition(part: Message) -> str:
    try:
        return (_mime_headers(part).get_content_disposition() or "").lower()
    except Exception:
        return ""


def _encoded_size(part: Message) -> int:
    """The decoded size estimated from the encoded payload, before decoding anything."""
    payload = part.get_payload()
    length = len(payload) if isinstance(payload, (str, bytes)) else 0
    try:
        transfer = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    except Exception:
        transfer = ""
    return length * 3 // 4 if transfer == "base64" else length


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogateescape")
    return b""


def _part_text(part: Message) -> str:
    return decode_bytes(_payload_bytes(part), _param(part, "charset"))


def _message_bytes(part: Message) -> bytes:
    """An attached message (message/rfc822, or any part holding parsed blocks) back as bytes."""
    inner = part.get_payload()
    if isinstance(inner, list):
        try:
            return b"\n".join(
                block.as_bytes(policy=policy.compat32)
                for block in inner
                if isinstance(block, Message)
            )
        except Exception:  # noqa: S110 - fall back to the raw payload below
            pass
    return _payload_bytes(part)


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*?(/?)>")
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "wbr", "source"}
MAX_HTML_DEPTH = 400
MAX_HTML_TAGS = 50_000


def _html_too_complex(raw_html: str) -> bool:
    """True for HTML whose sanitising would take seconds (E08): the sanitiser's cost grows with
    the square of the nesting depth (20,000 nested <div>s: 2 s; 100,000: 50 s)."""
    depth = deepest = 0
    for tags, match in enumerate(_TAG.finditer(raw_html)):
        if tags >= MAX_HTML_TAGS:
            return True
        closing, name, self_closing = match.groups()
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing and name.lower() not in _VOID_TAGS:
            depth += 1
            deepest = max(deepest, depth)
    return deepest > MAX_HTML_DEPTH


def _strip_tags(raw_html: str) -> str:
    """A plain text from HTML in one linear pass, for HTML too complex to sanitise."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", raw_html)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6])\s*>", "\n", text)
    text = html_lib.unescape(re.sub(r"<[^>]*>", "", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def _images_to_alt(raw_html: str) -> str:
    """Replace every image with its alt text: nothing remote is ever fetched (E11)."""

    def alt(match: re.Match[str]) -> str:
        found = _ALT.search(match.group(0))
        text = next((g for g in found.groups() if g), "") if found else ""
        text = html_lib.unescape(text).strip()
        return f"[{html_lib.escape(text)}]" if text else ""

    return _IMG.sub(alt, raw_html)


def _dsn(report: Message, parts: list[Message]) -> DeliveryStatus:
    fields: dict[str, str] = {}
    original_id = ""
    for part in parts:
        content_type = _content_type(part)
        if content_type in ("message/delivery-status", "message/global-delivery-status"):
            blocks: list[Message] = []
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks = [block for block in payload if isinstance(block, Message)]
            else:
                text = _part_text(part)
                blocks = [HeaderParser().parsestr(chunk) for chunk in re.split(r"\n\s*\n", text)]
            recipients = [b for b in blocks[1:] if _raw_header(b, "Action") is not None]
            chosen = next(
                (b for b in recipients if (_raw_header(b, "Action") or "").strip() == "failed"),
                recipients[0] if recipients else None,
            )
            for block in [*blocks[:1], *([chosen] if chosen is not None else [])]:
                for key in ("Final-Recipient", "Original-Recipient", "Action", "Status"):
                    value = _raw_header(block, key)
                    if value and key.lower() not in fields:
                        fields[key.lower()] = value
                diagnostic = _raw_header(block, "Diagnostic-Code")
                if diagnostic:
                    fields["diagnostic"] = diagnostic
        elif content_type in ("text/rfc822-headers", "message/rfc822-headers") and not original_id:
            headers = HeaderParser().parsestr(_part_text(part))
            original_id = next(iter(_message_ids(_raw_header(headers, "Message-ID"))), "")
        elif content_type == "message/rfc822" and not original_id:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original_id = next(iter(_message_ids(_raw_header(inner[0], "Message-ID"))), "")
    if not original_id:
        for name in ("Original-Message-ID", "X-Original-Message-ID"):
            original_id = next(iter(_message_ids(_raw_header(report, name))), "")
            if original_id:
                break

    def after_type(value: str) -> str:  # "rfc822; user@example.org" -> "user@example.org"
        return " ".join(decode_header_text(value.split(";", 1)[-1]).split())

    recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
    return DeliveryStatus(
        original_message_id=original_id,
        recipient=after_type(recipient).lower()[:254],
        action=decode_header_text(fields.get("action", "")).lower()[:40],
        status=decode_header_text(fields.get("status", "")).split(" ", 1)[0][:20],
        diagnostic=after_type(fields.get("diagnostic", ""))[:1000],
    )


# --- quoted history ---------------------------------------------------------------------------

_ATTRIBUTION = re.compile(
    r"^\s*(?:On\s.{1,300}\swrote|Le\s.{1,300}\sa\s+écrit|El\s.{1,300}\sescribió"
    r"|Am\s.{1,300}\sschrieb)\s*:\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:original message|message d'origine|message original|forwarded message"
    r"|message transféré|courriel original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_FROM_LINE = re.compile(r"^\s*\*?(?:From|De|Von)\s*\*?\s*:\s*\S", re.IGNORECASE)
_SENT_LINE = re.compile(
    r"^\s*\*?(?:Sent|Envoyé|Date|Gesendet|To|À|A|Subject|Objet)\s*\*?\s*:", re.IGNORECASE
)


def _history_start(lines: list[str]) -> int | None:
    """The index of the first line of quoted history, or None."""
    for index, line in enumerate(lines):
        if len(line) > 1000:
            continue
        spaced = line.replace("\u00a0", " ").replace("\u202f", " ")
        if _ATTRIBUTION.match(spaced):
            return index
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if len(following) < 300 and _ATTRIBUTION.match(
            f"{spaced} {following}".replace("\u00a0", " ")
        ):
            return index  # an attribution wrapped over two lines
        if _SEPARATOR.match(line):
            return index
        if _UNDERSCORES.match(line) and any(
            _FROM_LINE.match(n) for n in lines[index + 1 : index + 3]
        ):
            return index
        if _FROM_LINE.match(line) and any(
            _SENT_LINE.match(n) for n in lines[index + 1 : index + 4]
        ):
            return index
    # A bottom block of ">" lines (no attribution line).
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (lines[start - 1].lstrip().startswith(">") or not lines[start - 1].strip()):
        start -= 1
    if start < end and any(line.lstrip().startswith(">") for line in lines[start:end]):
        return start
    return None


def split_quoted(text: str) -> tuple[str, str]:
    """(new part, quoted history). Keeps everything as new when folding would leave nothing or
    would hide answers written between quoted lines."""
    lines = text.split("\n")
    start = _history_start(lines)
    if start is None:
        return text, ""
    new = "\n".join(lines[:start]).rstrip()
    rest = lines[start:]
    body = [line for line in rest[1:] if line.strip()]
    if body and body[0].lstrip().startswith(">"):
        # ">"-style history: an unquoted line after it is an inline answer, keep all visible.
        seen_quote = False
        for line in body:
            if line.lstrip().startswith(">"):
                seen_quote = True
            elif seen_quote and not line.startswith("-- "):
                return text, ""
    if not new.strip():
        return text, ""
    return new, "\n".join(rest).strip("\n")


# --- the parser -------------------------------------------------------------------------------


def parse_email(
    raw: bytes, *, max_attachment_bytes: int, max_total_bytes: int = 50 * 1024 * 1024
) -> ParsedEmail:
    """Read raw email bytes. Raises only `UnparseableEmail`."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise UnparseableEmail("not bytes")
    # A byte-order mark or blank lines before the headers (seen in exports) hide every header.
    data = bytes(raw).removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    if not data.strip():
        raise UnparseableEmail("empty message")
    try:
        return _parse(data, max_attachment_bytes, max_total_bytes)
    except UnparseableEmail:
        raise
    except RecursionError as error:
        raise UnparseableEmail("MIME structure nested too deeply") from error
    except MemoryError as error:
        raise UnparseableEmail("message too large to parse") from error
    except Exception as error:  # the promise: one clear exception, never a crashed worker
        raise UnparseableEmail(f"cannot parse: {type(error).__name__}: {error}"[:500]) from error


def _parse(data: bytes, max_attachment_bytes: int, max_total_bytes: int) -> ParsedEmail:
    # NUL bytes end C strings in too many places; nothing legitimate needs them in a header.
    ends = [found for found in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if found > 0]
    head_end = min(ends, default=len(data))
    if head_end > 0:
        data = data[:head_end].replace(b"\x00", b"") + data[head_end:]
    message = BytesParser(policy=policy.compat32).parsebytes(data)
    if not message.keys() and not message.get_payload():
        raise UnparseableEmail("no headers and no body")
    if not any(key.lower() in _KNOWN_HEADERS for key in message):
        raise UnparseableEmail("no email header found (From, To, Subject, Date, Message-ID…)")
    defects: list[str] = []

    subject = decode_header_text(_raw_header(message, "Subject") or "")
    from_address, from_name = _from_header(_raw_header(message, "From"), defects)
    to, _clean = _address_header(_raw_header(message, "To"), defects, "To")
    cc, _clean = _address_header(_raw_header(message, "Cc"), defects, "Cc")
    reply_to, _clean = _address_header(_raw_header(message, "Reply-To"), defects, "Reply-To")
    return_path = _return_path(_raw_header(message, "Return-Path"))
    message_ids = _message_ids(_raw_header(message, "Message-ID"), limit=1)

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[InboundAttachment] = []
    oversize: list[tuple[str, int]] = []
    total = 0
    report_parts: list[Message] = []
    body_language = ""
    stack: list[tuple[Message, int, str]] = [(message, 0, "")]
    seen = 0
    while stack:
        part, depth, parent_type = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            defects.append(f"more than {MAX_PARTS} MIME parts; the rest were ignored")
            break
        content_type = _content_type(part)
        if parent_type == "multipart/report":
            report_parts.append(part)
        if part.is_multipart() and content_type.startswith("multipart/"):
            if depth >= MAX_DEPTH:
                defects.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts ignored")
                continue
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(
                    (child, depth + 1, content_type)
                    for child in reversed(children)
                    if isinstance(child, Message)
                )
            continue
        if content_type.startswith("multipart/"):  # no usable boundary: read it as text
            content_type = "text/plain"
        disposition = _disposition(part)
        filename = _filename(part)
        is_body = not filename and disposition != "attachment"
        if is_body and content_type in ("text/plain", "text/html"):
            if _encoded_size(part) > max(max_total_bytes, 1):
                oversize.append(("body." + content_type.split("/")[1], _encoded_size(part)))
                continue
            text = _part_text(part)
            (texts if content_type == "text/plain" else htmls).append(text)
            body_language = body_language or _language(_raw_header(part, "Content-Language"))
            continue
        if parent_type == "multipart/report" and content_type in (
            "message/delivery-status",
            "message/global-delivery-status",
            "text/rfc822-headers",
        ):
            continue  # read by _dsn below
        if content_type == "message/rfc822" and not filename:
            inner = part.get_payload()
            inner_subject = ""
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                inner_subject = decode_header_text(_raw_header(inner[0], "Subject") or "")
            filename = f"{inner_subject or 'message'}.eml"
        if not filename:
            extension = mimetypes.guess_extension(content_type) or ".bin"
            filename = f"part-{seen}{extension}"
        filename = safe_filename(filename)
        size = _encoded_size(part)
        if size > max_attachment_bytes or total + size > max_total_bytes:
            oversize.append((filename, size))
            continue
        content = _message_bytes(part)
        if len(content) > max_attachment_bytes or total + len(content) > max_total_bytes:
            oversize.append((filename, len(content)))
            continue
        total += len(content)
        attachments.append(InboundAttachment(filename, content, content_type[:100]))

    raw_html = "\n".join(htmls)
    html = ""
    html_text = ""
    if raw_html.strip() and _html_too_complex(raw_html):
        defects.append("HTML too deeply nested to show; text version only")
        html_text = _strip_tags(raw_html)
    elif raw_html.strip():
        html = sanitise_html(_images_to_alt(raw_html)).strip()
        html_text = html_to_text(html) if html else ""
    full_text = "\n\n".join(t.strip("\r\n") for t in texts if t.strip())
    if not full_text.strip():
        full_text = html_text
    full_text = clean_text(full_text.replace("\r\n", "\n").replace("\r", "\n"))
    text, quoted = split_quoted(full_text)

    dsn = None
    if content_type_is_report(message):
        dsn = _dsn(message, report_parts)
    auto = _auto_submitted_reason(
        message, from_address=from_address, return_path=return_path, subject=subject
    )
    for defect in getattr(message, "defects", [])[:20]:
        defects.append(type(defect).__name__)
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=_message_ids(_raw_header(message, "In-Reply-To"), limit=10),
        references=_message_ids(_raw_header(message, "References")),
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        to=tuple(to),
        cc=tuple(cc),
        reply_to=tuple(reply_to),
        return_path=return_path,
        date=_date(_raw_header(message, "Date")),
        text=text.strip("\n"),
        quoted_text=quoted,
        html=html,
        attachments=tuple(attachments),
        oversize=tuple(oversize),
        auto_submitted=auto,
        dsn=dsn,
        language=_language(_raw_header(message, "Content-Language")) or body_language,
        defects=tuple(dict.fromkeys(defects)),
    )


_KNOWN_HEADERS = {
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "sender",
    "reply-to",
    "delivered-to",
    "x-mailer",
}


def content_type_is_report(message: Message) -> bool:
    """A delivery-status notification: multipart/report; report-type=delivery-status."""
    if _content_type(message) != "multipart/report":
        return False
    return (_param(message, "report-type") or "delivery-status").lower() == "delivery-status"


# --- to the conversation layer ----------------------------------------------------------------


def raw_sha256_id(raw: bytes) -> str:
    """The external id of a message without a Message-ID."""
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html_lib.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def to_inbound(
    parsed: ParsedEmail, *, raw_ref: str, team_id: int | None, external_id: str = ""
) -> InboundMessage:
    """The `InboundMessage` for `message_ingest`.

    `external_id` defaults to the Message-ID; pass `raw_sha256_id(raw)` for a mail without one.
    Raises `UnparseableEmail` when the mail has no single readable sender (E10: ambiguous →
    quarantine). `text` is the new part only; the history stays visible in `html` (see the module
    docstring). In-Reply-To comes before References, most relevant first.
    """
    if not parsed.from_address:
        raise UnparseableEmail("no single readable sender address in From")
    html = parsed.html
    if not html and parsed.quoted_text:
        html = (
            _text_to_html(parsed.text)
            + "<blockquote>"
            + _text_to_html(parsed.quoted_text)
            + "</blockquote>"
        )
    references = tuple(reversed(parsed.references))  # the most recent reference first
    threading = tuple(dict.fromkeys(parsed.in_reply_to + references))
    extra = {"auto_submitted": parsed.auto_submitted} if parsed.auto_submitted else {}
    if parsed.oversize:
        extra["oversize"] = "; ".join(f"{name} ({size} bytes)" for name, size in parsed.oversize)
    return InboundMessage(
        channel="email",
        sender_kind="email",
        sender_value=parsed.from_address,
        sender_name=parsed.from_name,
        subject=parsed.subject[:MAX_SUBJECT_CHARS],
        text=parsed.text,
        html=html,
        external_id=external_id or parsed.message_id,
        in_reply_to=threading[:MAX_IDS],
        team_id=team_id,
        language=parsed.language,
        attachments=parsed.attachments,
        source_ref=raw_ref,
        received_at=None,
        extra=extra,
    )
