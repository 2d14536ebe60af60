"""The French catalogue is complete and consistent; pages speak French, or English on demand."""

# French texts use the typographic apostrophe (U+2019), as the catalogue does.
# ruff: noqa: RUF001

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from guichet.customers.models import Customer

GUICHET = Path(django_settings.BASE_DIR) / "guichet"
PO = GUICHET / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Each app that has pages of its own keeps its catalogue beside its code; makemessages run from the
# project root routes every string to the catalogue of the nearest `locale` folder.
CATALOGUES = sorted(GUICHET.glob("**/locale/fr/LC_MESSAGES/django.po"))

# %(name)s, %d, %s… (not %%) and {name}
PLACEHOLDER = re.compile(
    r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{\w*\}"
)


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def parse_po(text: str) -> list[Entry]:
    """A small .po reader: enough for the files makemessages writes (no obsolete entries kept)."""
    entries: list[Entry] = []
    entry = Entry()
    key: tuple[str, int] | None = None

    def flush() -> None:
        nonlocal entry, key
        if key is not None:
            entries.append(entry)
        entry, key = Entry(), None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#,"):
            if key is not None:
                flush()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])? (".*")$', line):
            word, index, value = (
                match.group(1),
                int(match.group(2) or 0),
                ast.literal_eval(match.group(3)),
            )
            if word == "msgid" and key is not None and key[0].startswith("msgstr"):
                flush()
            if word == "msgid":
                entry.line = number
            key = (word, index)
            _append(entry, key, value)
        elif line.startswith('"') and key is not None:
            _append(entry, key, ast.literal_eval(line))
        else:
            raise AssertionError(f"{PO.name}:{number}: cannot read {raw!r}")
    flush()
    return entries


def _append(entry: Entry, key: tuple[str, int], value: str) -> None:
    word, index = key
    if word == "msgid":
        entry.msgid += value
    elif word == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + value
    elif word == "msgstr":
        entry.msgstr[index] = entry.msgstr.get(index, "") + value


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


@pytest.fixture(
    scope="module", params=CATALOGUES, ids=lambda path: str(path.relative_to(GUICHET).parents[3])
)
def catalogue(request: Any) -> list[Entry]:
    path: Path = request.param
    return parse_po(path.read_text(encoding="utf-8"))


def test_main_catalogue_is_the_big_one() -> None:
    assert PO in CATALOGUES
    assert len(parse_po(PO.read_text(encoding="utf-8"))) > 300


def test_catalogue_header(catalogue: list[Entry]) -> None:
    header = catalogue[0]
    assert header.msgid == "" and "fuzzy" not in header.flags
    assert "Language: fr\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);\n" in header.msgstr[0]
    assert "charset=UTF-8" in header.msgstr[0]


def test_catalogue_is_complete(catalogue: list[Entry]) -> None:
    entries = catalogue[1:]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    untranslated = []
    for e in entries:
        expected = 2 if e.msgid_plural is not None else 1
        if len(e.msgstr) != expected or not all(e.msgstr.values()):
            untranslated.append(e.msgid)
    assert not untranslated, f"untranslated entries: {untranslated}"


def test_placeholders_match(catalogue: list[Entry]) -> None:
    wrong = []
    for e in catalogue[1:]:
        for index, text in e.msgstr.items():
            source = e.msgid if index == 0 or e.msgid_plural is None else e.msgid_plural
            if placeholders(text) != placeholders(source):
                wrong.append((e.line, e.msgid, text))
    assert not wrong, f"placeholders differ: {wrong}"


def test_french_typography(catalogue: list[Entry]) -> None:
    """English quotes become « », and a space comes before ':' and ';' (one convention)."""
    wrong = []
    for e in catalogue[1:]:
        for text in e.msgstr.values():
            if "“" in text or "”" in text or re.search(r"\S[:;](\s|$)", text.replace("00:00", "")):
                wrong.append(text)
            if re.search(r"«\S|\S»", text):
                wrong.append(text)
    assert not wrong, wrong


def test_snooze_is_one_word(catalogue: list[Entry]) -> None:
    """'Snooze' is 'veille' everywhere, never 'report' or 'pause'."""
    for e in catalogue[1:]:
        if "snooz" in e.msgid.lower():
            for text in e.msgstr.values():
                assert "veille" in text, (e.msgid, text)


# Rendering --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _french_site(settings: Any) -> None:
    """French by default (as a new install), plain static storage, compiled and fresh catalogue."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.LANGUAGE_CODE = "fr"
    for po in CATALOGUES:
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            msgfmt = shutil.which("msgfmt")
            if msgfmt is None:
                pytest.fail(f"{mo} is missing or older than the .po: run `make messages`")
            subprocess.run([msgfmt, "--check", "-o", str(mo), str(po)], check=True)  # noqa: S603
    # Setting LOCALE_PATHS again drops Django's cached catalogues (test signal), so a
    # catalogue compiled above, or by `make messages`, is the one read.
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)


def get(client: Any, url: str, language: str | None = None, **params: Any) -> str:
    headers = {"Accept-Language": language} if language else {}
    response = client.get(url, params, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


ENGLISH_LEFTOVERS = (
    "Inbox",
    "Search conversations",
    "Sign out",
    "Keyboard shortcuts",
    "Nobody",
    "Status",
    "Priority",
    "Waiting on",
    "Take this conversation",
    "Internal note",
    "Reply to the customer",
    "Snooze",
    "Named advisor",
    "Identifiers",
    "No conversation",
    "(no subject)",
)


def assert_french(body: str, *texts: str) -> None:
    assert '<html lang="fr">' in body
    for text in texts:
        assert text in body, text
    for english in ENGLISH_LEFTOVERS:
        assert english not in body, english


def assert_english(body: str, *texts: str) -> None:
    assert '<html lang="en">' in body
    for text in texts:
        assert text in body, text
    assert "Boîte de réception" not in body


pytestmark = pytest.mark.django_db


def test_login_page(client: Any) -> None:
    body = get(client, "/login/")
    assert '<html lang="fr">' in body
    assert "Se connecter" in body and "Nom d’utilisateur" in body and "Mot de passe" in body
    assert "Sign in" not in body and "Password" not in body
    body = get(client, "/login/", language="en")
    assert '<html lang="en">' in body and "Sign in" in body and "Se connecter" not in body


def test_login_error_in_french(client: Any, agent: Any) -> None:
    response = client.post("/login/", {"username": "alice", "password": "faux"})
    body = response.content.decode()
    assert "nom d’utilisateur et un mot de passe valides" in body or "mot de passe" in body.lower()
    assert "Please enter a correct" not in body


def test_inbox(ingest: Any, agent: Any, login: Any) -> None:
    ingest(subject="Carte bloquée")
    client = login(agent)
    body = get(client, "/", view="unassigned")
    assert_french(
        body,
        "Boîte de réception : Non attribuées",
        "(1 conversation)",
        "Mes conversations",
        "Mes équipes",
        "Nouvelle conversation",
        "Rechercher des conversations et des clients",
        "Raccourcis clavier",
        "Se déconnecter",
        ">Nouvelle</span>",
        ">Normale</span>",
        "<td>E-mail</td>",
        "En attente d’un tiers",
        "Échéance la plus proche",
        "Indifférent",
        "Personne",
        "Carte bloquée",
    )
    body = get(client, "/", language="en", view="unassigned")
    assert_english(
        body, "Inbox: Unassigned", "(1 conversation)", ">New</span>", "Waiting on third party"
    )


def test_inbox_plural(ingest: Any, agent: Any, login: Any) -> None:
    ingest()
    ingest(sender="autre@example.org")
    body = get(login(agent), "/", view="unassigned")
    assert "(2 conversations)" in body


def test_conversation_page(ingest: Any, agent: Any, login: Any) -> None:
    conversation = ingest(subject="Carte bloquée").conversation
    client = login(agent)
    body = get(client, f"/c/{conversation.number}/")
    assert_french(
        body,
        "Prendre en charge cette conversation",
        "Historique",
        "Répondre au client",
        "Note interne",
        "Mettre en veille",
        "Pendant 1 heure",
        "Première réponse humaine",
        "a démarré cette conversation (E-mail)",
        "Message du client",
        "Attribuée à",
        "Étiquettes",
    )
    body = get(client, f"/c/{conversation.number}/", language="en")
    assert_english(body, "Take this conversation", "started this conversation (Email)", "Snooze")


def test_conversation_actions_speak_french(ingest: Any, agent: Any, login: Any) -> None:
    conversation = ingest().conversation
    client = login(agent)
    response = client.post(f"/c/{conversation.number}/claim")
    assert response.status_code == 302
    body = get(client, f"/c/{conversation.number}/")
    assert "Vous avez pris en charge cette conversation." in body
    assert "a pris en charge cette conversation" in body
    response = client.post(f"/c/{conversation.number}/reply", {"text": "   "})
    assert response.status_code == 400
    body = response.content.decode()
    assert (
        "Répondre au client : Ce champ est obligatoire." in body
        or "Une réponse ne peut pas être vide." in body
    )
    response = client.post(f"/c/{conversation.number}/snooze", {"preset": "1h"})
    assert response.status_code == 302
    body = get(client, f"/c/{conversation.number}/")
    assert "Conversation mise en veille." in body and "En veille jusqu’au" in body
    assert "a mis cette conversation en veille jusqu’au" in body


def test_customer_page(ingest: Any, agent: Any, login: Any) -> None:
    customer = ingest().conversation.customer
    assert isinstance(customer, Customer)
    client = login(agent)
    body = get(client, f"/customers/{customer.pk}/")
    assert_french(
        body,
        "Identifiants",
        "Ajouter l’identifiant",
        "Conseiller référent",
        "Langue préférée",
        "Non renseignée",
        "Conversations de ce client",
        "Créée le",
    )
    body = get(client, f"/customers/{customer.pk}/", language="en")
    assert_english(body, "Identifiers", "Named advisor", "Add identifier")


def test_search_page(ingest: Any, agent: Any, login: Any) -> None:
    ingest(subject="Chéquier perdu", text="Mon chéquier a disparu")
    client = login(agent)
    body = get(client, "/search/", q="chéquier")
    assert_french(
        body, "Résultats de la recherche « chéquier »", "Chéquier perdu", "Aucun client trouvé."
    )
    body = get(client, "/search/", language="en", q="chéquier")
    assert_english(body, "Search results for “chéquier”")


def test_new_conversation_page(agent: Any, login: Any) -> None:
    client = login(agent)
    body = get(client, "/c/new/")
    assert_french(
        body,
        "<h1>Nouvelle conversation</h1>",
        "E-mail ou numéro de téléphone du client",
        "Demande du client",
        "Courrier postal",
        "Guichet</option>",
        "Ouvrir la conversation",
    )
    response = client.post(
        "/c/new/", {"channel": "phone", "identifier": "pas un numéro", "text": "x"}
    )
    body = response.content.decode()
    assert "« pas un numéro » n’est pas un numéro de téléphone valide." in body
    body = get(client, "/c/new/", language="en")
    assert_english(body, "<h1>New conversation</h1>", "Customer email or phone number")


def test_error_page_in_french(agent: Any, login: Any) -> None:
    response = login(agent).get("/", {"status": "bidon"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Un problème est survenu" in body and "Statut inconnu : « bidon »." in body


def test_language_switcher(ingest: Any, agent: Any, login: Any) -> None:
    conversation = ingest().conversation
    client = login(agent)
    url = f"/c/{conversation.number}/"
    assert "Historique" in get(client, url)
    response = client.post("/i18n/setlang/", {"language": "en", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    body = get(client, url)
    assert_english(body, "Timeline", "Take this conversation")
    client.post("/i18n/setlang/", {"language": "fr", "next": url})
    assert_french(get(client, url), "Historique")
