"""Demo data: a small, believable bank customer-service organisation, built through the services.

`manage.py demo_data` (and `make run` on an empty database) calls `demo_build`. Everything that
has a service is created through it, so the timeline events and due times are the ones the
product would have written. Customer requests come from the public datasets under
`../shared/datasets` when they are present (read at run time, never shipped) and from the
built-in sentences below otherwise.

Demo e-mail addresses use the reserved `example.*` domains. Phone numbers are random French mobile
numbers (the ranges reserved for fiction are not valid numbers for `phonenumbers`), so never load
demo data into an installation that really sends SMS.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from tqdm import tqdm

from guichet.accounts.models import Site, Team, User
from guichet.accounts.services import agent_create, team_create
from guichet.channels.appointments.models import AgentSchedule, AppointmentType, Desk
from guichet.channels.counter.models import QueueReason
from guichet.conversations import senders, sla
from guichet.conversations.models import Channel, Conversation, Event, Message, Priority, Status
from guichet.conversations.services import (
    conversation_claim,
    conversation_note_add,
    conversation_open,
    conversation_reply,
    conversation_set_priority,
    conversation_set_status,
    conversation_set_tags,
    message_ingest,
)
from guichet.conversations.types import InboundMessage
from guichet.core.calendars import ALWAYS_OPEN, OFFICE_HOURS
from guichet.core.conf import BASE_DIR
from guichet.core.exceptions import InvalidInput
from guichet.core.models import Calendar, Holiday, OpeningPeriod
from guichet.customers.models import Customer
from guichet.customers.services import customer_create

DEMO_PASSWORD = "guichet-demo"  # noqa: S105 (a published demo password, printed by `serve`)

# (username, role): the first one is the login `make run` suggests.
DEMO_LOGINS: list[tuple[str, str]] = [
    ("camille", "agent"),
    ("emma", "agent"),
    ("sophie", "supervisor"),
    ("admin", "admin"),
]

DEFAULT_DATASETS_DIR = BASE_DIR.parent / "shared" / "datasets"

OFFICE_CALENDAR = "Horaires de bureau"
ALWAYS_OPEN_CALENDAR = "24/7"


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str
    calendar: str
    languages: tuple[str, ...]
    first_response_minutes: int
    email: str


TEAMS = (
    TeamSpec(
        "cartes",
        "Cartes et paiements",
        OFFICE_CALENDAR,
        ("fr", "en"),
        240,
        "cartes@banque.example.org",
    ),
    TeamSpec("credits", "Crédits", OFFICE_CALENDAR, ("fr",), 480, "credits@banque.example.org"),
    TeamSpec(
        "accueil", "Accueil et agences", OFFICE_CALENDAR, ("fr",), 240, "accueil@banque.example.org"
    ),
    TeamSpec(
        "customer-care",
        "Customer care (English)",
        ALWAYS_OPEN_CALENDAR,
        ("en",),
        120,
        "care@bank.example.com",
    ),
    # The bank's own staff write to an internal helpdesk too (leave, remote work, equipment).
    TeamSpec(
        "collaborateurs",
        "Support collaborateurs",
        OFFICE_CALENDAR,
        ("fr",),
        480,
        "support-interne@banque.example.org",
    ),
)

SITES = (
    ("Agence Lyon Part-Dieu", "12 rue de la Villette\n69003 Lyon", "+33478000000"),
    ("Agence Paris Bastille", "4 place de la Bastille\n75011 Paris", "+33140000000"),
)


@dataclass(frozen=True)
class AgentSpec:
    username: str
    first_name: str
    last_name: str
    role: str
    teams: tuple[str, ...]
    languages: tuple[str, ...]
    sites: tuple[int, ...] = ()


AGENTS = (
    AgentSpec("camille", "Camille", "Martin", "agent", ("cartes", "accueil"), ("fr", "en")),
    AgentSpec("julien", "Julien", "Bernard", "agent", ("cartes",), ("fr",)),
    AgentSpec("ines", "Inès", "Haddad", "agent", ("credits",), ("fr", "ar")),
    AgentSpec("thomas", "Thomas", "Dubois", "agent", ("accueil", "credits"), ("fr",), (0,)),
    AgentSpec("emma", "Emma", "Wilson", "agent", ("customer-care", "cartes"), ("en", "fr")),
    AgentSpec("lucas", "Lucas", "Moreau", "agent", ("collaborateurs", "accueil"), ("fr",), (1,)),
    AgentSpec(
        "sophie",
        "Sophie",
        "Laurent",
        "supervisor",
        ("cartes", "credits", "customer-care"),
        ("fr", "en"),
    ),
    AgentSpec(
        "marc", "Marc", "Girard", "supervisor", ("accueil", "collaborateurs"), ("fr",), (0, 1)
    ),
    AgentSpec("admin", "Nadia", "Lefèvre", "admin", (), ("fr", "en")),
)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


FRENCH_FIRST = _names(
    "Marie, Jean, Nathalie, Pierre, Isabelle, Michel, Sylvie, Philippe, Catherine, Alain, "
    "Sandrine, Nicolas, Valérie, Christophe, Céline, Stéphane, Aurélie, Laurent, Julie, "
    "Sébastien, Élodie, Mathieu, Chloé, Antoine, Léa, Hugo, Manon, Louis, Sarah, Karim, Fatima, "
    "Mohamed, Yasmine, Mamadou, Aïcha, Bernadette, Gérard, Monique, Jacqueline, Théo, Zoé, "
    "Noémie, Rémi, Loïc"
)
FRENCH_LAST = _names(
    "Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Leroy, Moreau, Simon, Laurent, "
    "Lefebvre, Michel, Garcia, David, Bertrand, Roux, Vincent, Fournier, Morel, Girard, André, "
    "Mercier, Dupont, Lambert, Bonnet, François, Martinez, Legrand, Garnier, Faure, Rousseau, "
    "Blanc, Guérin, Muller, Henry, Benali, Diallo, Nguyen, Traoré, Da Silva, Perrin, Chevalier, "
    "Le Gall"
)
ENGLISH_FIRST = _names(
    "James, Olivia, William, Emily, Harry, Sophie, George, Charlotte, Jack, Amelia, Daniel, "
    "Grace, Samuel, Hannah, Ryan, Megan, Priya, Arjun, Chen, Aisha, Liam, Niamh, Connor, Fiona"
)
ENGLISH_LAST = _names(
    "Smith, Jones, Taylor, Brown, Williams, Wilson, Johnson, Davies, Robinson, Wright, Thompson, "
    "Evans, Walker, White, Roberts, Green, Hall, Patel, Khan, O'Brien, Murphy, Kelly, Campbell, "
    "Stewart"
)
EMAIL_DOMAINS = ("example.org", "example.com", "example.net", "mail.example.org")

# (team slug, subject, request, tags): written for this demo.
FRENCH_REQUESTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "cartes",
        "Carte bloquée",
        "Bonjour, ma carte bancaire a été bloquée après trois codes erronés "
        "au distributeur. Comment la débloquer ? Je pars en déplacement demain.",
        ("carte-bloquée",),
    ),
    (
        "cartes",
        "Paiement refusé",
        "Bonjour, mon paiement a été refusé chez un commerçant alors que "
        "mon compte est approvisionné. Pouvez-vous vérifier ?",
        ("paiement-refusé",),
    ),
    (
        "cartes",
        "Opération inconnue",
        "Je vois sur mon relevé un paiement par carte de 89,90 € que je ne "
        "reconnais pas. Je n'ai jamais commandé sur ce site. Que dois-je faire ?",
        ("fraude",),
    ),
    (
        "cartes",
        "Carte perdue",
        "J'ai perdu ma carte hier soir, j'ai fait opposition par "
        "téléphone. Quand vais-je recevoir la nouvelle ?",
        ("opposition",),
    ),
    (
        "cartes",
        "Plafond de paiement",
        "Bonjour, je dois payer un acompte de 2 500 € pour des "
        "travaux. Est-il possible d'augmenter temporairement mon plafond de carte ?",
        ("plafond",),
    ),
    (
        "cartes",
        "Nouvelle carte non reçue",
        "Ma carte arrive à expiration à la fin du mois et je "
        "n'ai toujours pas reçu la nouvelle. Est-elle partie ?",
        ("envoi-carte",),
    ),
    (
        "cartes",
        "Débit en double",
        "Mon paiement au supermarché a été débité deux fois, le 12 et le "
        "13. Merci de me rembourser le doublon.",
        ("litige",),
    ),
    (
        "cartes",
        "Retrait non délivré",
        "Le distributeur ne m'a pas donné les billets mais mon "
        "compte a été débité de 60 €. Comment récupérer mon argent ?",
        ("litige", "dab"),
    ),
    (
        "cartes",
        "Paiement sans contact",
        "Le sans contact ne fonctionne plus sur ma carte depuis une "
        "semaine, je dois toujours taper mon code.",
        (),
    ),
    (
        "cartes",
        "Virement non reçu",
        "J'ai fait un virement de 450 € à ma fille il y a quatre jours "
        "et elle ne l'a toujours pas reçu. Pouvez-vous regarder ?",
        ("virement",),
    ),
    (
        "cartes",
        "Frais à l'étranger",
        "Je rentre d'Espagne et on m'a prélevé des frais sur chaque "
        "paiement. Je croyais que c'était gratuit en zone euro ?",
        ("frais",),
    ),
    (
        "cartes",
        "Code oublié",
        "J'ai oublié le code de ma carte. Est-ce que je peux le recevoir à nouveau par courrier ?",
        (),
    ),
    (
        "credits",
        "Remboursement anticipé",
        "Bonjour, je souhaite rembourser par anticipation mon "
        "prêt auto. Pouvez-vous m'envoyer le décompte et les frais éventuels ?",
        ("prêt-auto",),
    ),
    (
        "credits",
        "Demande de prêt immobilier",
        "Nous avons trouvé un appartement à 245 000 €, avec "
        "un apport de 30 000 €. Pouvons-nous prendre rendez-vous pour étudier un financement ?",
        ("immobilier", "rendez-vous"),
    ),
    (
        "credits",
        "Report d'échéance",
        "Suite à une perte d'emploi, j'aurais besoin de reporter "
        "deux échéances de mon crédit. Est-ce possible ?",
        ("difficultés",),
    ),
    (
        "credits",
        "Attestation de prêt",
        "Mon notaire me demande une attestation de fin de prêt pour "
        "la vente de la maison. Pouvez-vous me l'envoyer ?",
        ("attestation",),
    ),
    (
        "credits",
        "Assurance emprunteur",
        "Je voudrais changer d'assurance emprunteur, la loi le "
        "permet à tout moment. Quels documents dois-je vous fournir ?",
        ("assurance",),
    ),
    (
        "credits",
        "Dossier en attente",
        "J'ai envoyé toutes les pièces pour mon prêt travaux il y a "
        "trois semaines et je n'ai aucune nouvelle. Où en est mon dossier ?",
        ("relance",),
    ),
    (
        "credits",
        "Taux de mon crédit",
        "Est-il possible de renégocier le taux de mon prêt immobilier signé en 2023 ?",
        ("immobilier",),
    ),
    (
        "accueil",
        "Rendez-vous avec ma conseillère",
        "Bonjour, je voudrais un rendez-vous avec ma "
        "conseillère à l'agence, de préférence un mardi matin.",
        ("rendez-vous",),
    ),
    (
        "accueil",
        "Changement d'adresse",
        "Je viens de déménager. Comment changer mon adresse ? Je "
        "n'arrive pas à le faire sur l'application.",
        ("coordonnées",),
    ),
    (
        "accueil",
        "Ouverture de compte",
        "Je souhaite ouvrir un compte pour mon fils de 16 ans. Quelles pièces faut-il apporter ?",
        ("ouverture",),
    ),
    (
        "accueil",
        "Procuration",
        "Ma mère est hospitalisée, je voudrais une procuration sur son "
        "compte pour payer ses factures. Comment faire ?",
        ("procuration",),
    ),
    (
        "accueil",
        "Succession",
        "Mon père est décédé le mois dernier. Que dois-je faire pour ses "
        "comptes ? Je ne sais pas par où commencer.",
        ("succession",),
    ),
    (
        "accueil",
        "Accès à l'application",
        "Je n'arrive plus à me connecter à l'application depuis "
        "que j'ai changé de téléphone. On me demande un code que je ne reçois pas.",
        ("accès",),
    ),
    (
        "accueil",
        "Chéquier",
        "Pouvez-vous me commander un chéquier ? Je préfère le retirer à l'agence de la Part-Dieu.",
        ("chéquier",),
    ),
    (
        "accueil",
        "Clôture de compte",
        "Je souhaite clôturer mon livret A et transférer le solde sur mon compte courant.",
        ("clôture",),
    ),
    (
        "accueil",
        "Relevés papier",
        "Je n'ai pas d'ordinateur. Est-ce que je peux continuer à "
        "recevoir mes relevés de compte par courrier ?",
        ("accessibilité",),
    ),
    (
        "accueil",
        "Aide pour un virement",
        "Bonjour, je n'y arrive pas avec internet. Pouvez-vous "
        "m'aider à faire un virement pour mon loyer ?",
        ("accessibilité",),
    ),
)
FRENCH_INTERNAL_REQUESTS: tuple[str, ...] = (
    "Bonjour, combien de jours de télétravail puis-je poser ce mois-ci ?",
    "Mon écran ne s'allume plus depuis ce matin, qui dois-je appeler ?",
    "Je n'arrive pas à poser mes congés dans l'outil RH, il affiche une erreur.",
    "Est-ce que la formation sur le nouveau logiciel de crédit est obligatoire ?",
    "Où trouver le mode opératoire pour les procurations ?",
    "Je suis malade, à qui dois-je envoyer mon arrêt de travail ?",
)
# Used when the banking77 dataset is absent; written for this demo.
ENGLISH_REQUESTS: tuple[tuple[str, str], ...] = (
    ("card_arrival", "I ordered a new card ten days ago and it still hasn't arrived."),
    ("declined_card_payment", "My card was declined at the petrol station this morning, why?"),
    ("card_payment_not_recognised", "There is a payment on my statement I don't recognise."),
    ("lost_or_stolen_card", "My wallet was stolen in the metro, please block my card."),
    ("transfer_not_received_by_recipient", "My landlord says he never got my transfer."),
    ("exchange_rate", "What exchange rate do you use when I pay in pounds?"),
    ("pin_blocked", "I typed the wrong PIN three times and now it's blocked."),
    ("terminate_account", "I'm moving back to the UK and want to close my account."),
    ("verify_my_identity", "How do I verify my identity? The app keeps rejecting my passport."),
    ("transaction_charged_twice", "I was charged twice for the same hotel booking."),
    ("cash_withdrawal_charge", "Why was I charged a fee for taking cash out?"),
    ("edit_personal_details", "I got married and need to change my surname on the account."),
)
FRENCH_REPLIES = (
    "Bonjour {customer},\n\nMerci pour votre message. J'ai vérifié votre dossier : {detail}\n\n"
    "N'hésitez pas à me répondre directement si quelque chose n'est pas clair.\n\n"
    "Bien cordialement,\n{agent}",
    "Bonjour {customer},\n\n{Detail} Je reste à votre disposition, par message ou par téléphone."
    "\n\nCordialement,\n{agent}",
)
FRENCH_DETAILS = (
    "c'est bien réglé de notre côté, l'opération apparaîtra sous 48 heures.",
    "j'ai transmis votre demande au service concerné et je reviens vers vous dès leur réponse.",
    "pourriez-vous m'envoyer une copie de votre pièce d'identité pour que je puisse avancer ?",
    "je vous propose un rendez-vous jeudi à 10 h à l'agence, cela vous convient-il ?",
    "votre nouvelle carte est partie hier par courrier, vous devriez la recevoir cette semaine.",
    "le remboursement a été effectué ce matin.",
)
ENGLISH_REPLIES = (
    "Hello {customer},\n\nThank you for getting in touch. {detail}\n\nKind regards,\n{agent}",
    "Hi {customer},\n\n{detail} Just reply to this message if you need anything else.\n\n"
    "Best wishes,\n{agent}",
)
ENGLISH_DETAILS = (
    "I've checked your account and the payment has now been refunded.",
    "I've passed this on to our cards team and will get back to you as soon as I hear from them.",
    "Could you send us a photo of your ID so that I can finish the check?",
    "Your replacement card was posted yesterday and should reach you within three working days.",
    "I've blocked the card and ordered a new one for you.",
)
NOTES_FR = (
    "Client déjà venu en agence la semaine dernière pour le même sujet.",
    "Vérifié avec le back-office : opération en cours de traitement.",
    "Attention, client malvoyant : privilégier le téléphone.",
    "En attente du retour du service litiges (ticket interne transmis).",
    "Dossier complet, à valider par le responsable.",
)
NOTES_EN = (
    "Customer already called about this yesterday.",
    "Checked with the cards back office: refund is being processed.",
    "Waiting for the payment network's answer before replying.",
)
FOLLOW_UPS_FR = (
    "Bonjour, je me permets de vous relancer, je n'ai toujours pas de réponse.",
    "Merci, mais le problème n'est pas réglé : l'opération est toujours sur mon compte.",
    "Voici la pièce demandée. Merci de me tenir au courant.",
)
FOLLOW_UPS_EN = (
    "Hi, any news on this? It's quite urgent.",
    "Thanks, but I still can't see the refund on my account.",
    "Here is the document you asked for.",
)
THANKS = {"fr": "Merci beaucoup pour votre aide, c'est réglé.", "en": "Thanks a lot, all sorted."}

CHANNEL_WEIGHTS = {
    Channel.EMAIL: 34,
    Channel.WEBFORM: 20,
    Channel.CHAT: 12,
    Channel.PHONE: 13,
    Channel.SMS: 8,
    Channel.COUNTER: 8,
    Channel.PAPER: 5,
}
# The state each demo conversation ends in, with its share.
PLAN_WEIGHTS = {
    "new": 18,
    "claimed": 7,
    "open": 20,
    "waiting_customer": 12,
    "waiting_third_party": 7,
    "resolved": 14,
    "closed": 22,
}


# -- French public holidays ----------------------------------------------------------------------


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month = (h + leap - 7 * m + 114) // 31
    day = (h + leap - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def french_public_holidays(year: int) -> list[tuple[date, str]]:
    easter = easter_sunday(year)
    return sorted(
        [
            (date(year, 1, 1), "Jour de l'An"),
            (easter + timedelta(days=1), "Lundi de Pâques"),
            (date(year, 5, 1), "Fête du Travail"),
            (date(year, 5, 8), "Victoire 1945"),
            (easter + timedelta(days=39), "Ascension"),
            (easter + timedelta(days=50), "Lundi de Pentecôte"),
            (date(year, 7, 14), "Fête nationale"),
            (date(year, 8, 15), "Assomption"),
            (date(year, 11, 1), "Toussaint"),
            (date(year, 11, 11), "Armistice 1918"),
            (date(year, 12, 25), "Noël"),
        ]
    )


# -- request texts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    language: str
    team: str
    subject: str
    text: str
    tags: tuple[str, ...]


def _read_csv(path: Path, text_column: str, label_column: str) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (row[text_column].strip(), row[label_column].strip())
            for row in csv.DictReader(handle)
            if row.get(text_column, "").strip()
        ]


class RequestPool:
    """Customer requests in French and English, from the datasets when present."""

    def __init__(self, datasets_dir: Path, rng: random.Random) -> None:
        self.rng = rng
        english = _read_csv(datasets_dir / "banking77" / "train.csv", "text", "category")
        self.english = [(label, text) for text, label in english] or list(ENGLISH_REQUESTS)
        # Licensed for internal use only: read at run time, never copied into the product.
        internal = _read_csv(
            datasets_dir / "french_intents_wikit" / "training_dataset.csv", "utterance", "intent"
        )
        self.internal = [text for text, _label in internal] or list(FRENCH_INTERNAL_REQUESTS)
        self.used_datasets = bool(english) or bool(internal)

    def french(self) -> Request:
        if self.rng.random() < 0.08:
            text = self.rng.choice(self.internal)
            subject = text if len(text) <= 60 else text[:57].rsplit(" ", 1)[0] + "…"
            return Request("fr", "collaborateurs", subject, text, ("interne",))
        team, subject, text, tags = self.rng.choice(FRENCH_REQUESTS)
        return Request("fr", team, subject, text, tags)

    def english_request(self) -> Request:
        label, text = self.rng.choice(self.english)
        subject = label.replace("_", " ").rstrip("?").capitalize()
        return Request(
            "en", "customer-care", subject, text, (label.replace("_", "-").rstrip("?").lower(),)
        )


# -- organisation --------------------------------------------------------------------------------


def _calendar(name: str, hours: dict[int, list[tuple[time, time]]], holidays: bool) -> Calendar:
    # There is no calendar-writing service yet; these rows have no timeline events to record.
    calendar, created = Calendar.objects.get_or_create(
        name=name, defaults={"time_zone": "Europe/Paris"}
    )
    if created:
        OpeningPeriod.objects.bulk_create(
            OpeningPeriod(calendar=calendar, weekday=weekday, opens=opens, closes=closes)
            for weekday, intervals in hours.items()
            for opens, closes in intervals
        )
    if holidays:
        this_year = timezone.localdate().year
        for year in (this_year, this_year + 1):
            for day, label in french_public_holidays(year):
                Holiday.objects.get_or_create(calendar=calendar, date=day, defaults={"name": label})
    return calendar


def organisation_build() -> dict[str, Team]:
    """Calendars, sites, teams and agents; existing ones (by name) are kept as they are."""
    calendars = {
        OFFICE_CALENDAR: _calendar(OFFICE_CALENDAR, OFFICE_HOURS, holidays=True),
        ALWAYS_OPEN_CALENDAR: _calendar(ALWAYS_OPEN_CALENDAR, ALWAYS_OPEN, holidays=False),
    }
    sites = [
        Site.objects.get_or_create(
            name=name,
            defaults={"address": address, "phone": phone, "calendar": calendars[OFFICE_CALENDAR]},
        )[0]
        for name, address, phone in SITES
    ]
    teams: dict[str, Team] = {}
    for spec in TEAMS:
        existing = Team.objects.filter(slug=spec.slug).first()
        teams[spec.slug] = existing or team_create(
            name=spec.name,
            slug=spec.slug,
            calendar=calendars[spec.calendar],
            email=spec.email,
            languages=list(spec.languages),
            first_response_minutes=spec.first_response_minutes,
        )
    for agent in AGENTS:
        if User.objects.filter(username=agent.username).exists():
            continue
        user = agent_create(
            username=agent.username,
            password=DEMO_PASSWORD,
            first_name=agent.first_name,
            last_name=agent.last_name,
            role=agent.role,
            email=f"{_ascii(agent.first_name)}.{_ascii(agent.last_name)}@banque.example.org",
            teams=[teams[slug] for slug in agent.teams],
            languages=list(agent.languages),
        )
        if agent.sites:
            user.sites.set([sites[index] for index in agent.sites])
    return teams


# Appointment types: (English name, French name, mode, minutes, team slug).
APPOINTMENT_TYPES = (
    ("Advice on your accounts", "Conseil sur vos comptes", "in_person", 30, "accueil"),
    ("Loan project", "Projet de crédit", "in_person", 45, "credits"),
    ("Call with an adviser", "Rendez-vous téléphonique", "phone", 20, "accueil"),
)
# Reasons offered at the kiosk: (French, English).
QUEUE_REASONS = (
    ("Retrait ou dépôt", "Cash withdrawal or deposit"),
    ("Carte bancaire", "Bank card"),
    ("Documents et justificatifs", "Documents and certificates"),
    ("Autre demande", "Something else"),
)
# Agents receive people at their site on weekdays, in two sessions.
SITE_SESSIONS = ((time(9, 0), time(12, 30)), (time(13, 30), time(17, 0)))


def counter_build(teams: dict[str, Team]) -> None:
    """Desks, kiosk reasons, agents' presence and appointment types, for sites that have none."""
    for spec in APPOINTMENT_TYPES:
        name, name_fr, mode, minutes, slug = spec
        AppointmentType.objects.get_or_create(
            name=name,
            defaults={
                "name_fr": name_fr,
                "mode": mode,
                "duration_minutes": minutes,
                "team": teams.get(slug),
            },
        )
    for site in Site.objects.order_by("id"):
        if not Desk.objects.filter(site=site).exists():
            Desk.objects.bulk_create(
                Desk(site=site, name=f"Guichet {number}", number=number) for number in (1, 2, 3)
            )
        if not QueueReason.objects.filter(site=site).exists():
            QueueReason.objects.bulk_create(
                QueueReason(site=site, label_fr=fr, label_en=en, position=index)
                for index, (fr, en) in enumerate(QUEUE_REASONS)
            )
        if not AgentSchedule.objects.filter(site=site).exists():
            AgentSchedule.objects.bulk_create(
                AgentSchedule(agent=agent, site=site, weekday=weekday, starts=starts, ends=ends)
                for agent in site.agents.all()
                for weekday in range(5)
                for starts, ends in SITE_SESSIONS
            )


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


# -- customers -----------------------------------------------------------------------------------


def _mobile(rng: random.Random) -> str:
    return f"0{rng.choice('67')}{rng.randrange(10**8):08d}"


def customers_build(count: int, rng: random.Random, progress: bool = False) -> list[Customer]:
    """`count` customers, about one in five English-speaking, with an e-mail and/or a mobile."""
    start = Customer.objects.count()
    customers: list[Customer] = []
    for index in tqdm(range(count), desc="Customers", unit="", disable=not progress):
        english = rng.random() < 0.2
        first = rng.choice(ENGLISH_FIRST if english else FRENCH_FIRST)
        last = rng.choice(ENGLISH_LAST if english else FRENCH_LAST)
        local = f"{_ascii(first)}.{_ascii(last)}{start + index + 1}"
        identities: list[tuple[str, str]] = []
        shape = rng.random()
        if shape < 0.85:
            identities.append(("email", f"{local}@{rng.choice(EMAIL_DOMAINS)}"))
        if shape > 0.3:
            identities.append(("phone", _mobile(rng)))
        for _attempt in range(5):
            try:
                customers.append(
                    customer_create(
                        display_name=f"{first} {last}",
                        identities=identities,
                        language="en" if english else "fr",
                    )
                )
                break
            except InvalidInput:  # a random mobile number already taken: draw another
                identities = [(k, v) for k, v in identities if k != "phone"] + [
                    ("phone", _mobile(rng))
                ]
    return customers


# -- conversations -------------------------------------------------------------------------------


class _Clock:
    """Runs service calls, then dates the rows they wrote at a chosen moment in the past.

    The services stamp everything with `timezone.now()`. A demo where every conversation was
    created a second ago would show no ages, no overdue items and no history, so each step's
    messages and events are backdated with a queryset `.update()` right after the call.
    """

    def __init__(self) -> None:
        self.last_event = Event.objects.aggregate(m=Max("id"))["m"] or 0
        self.last_message = Message.objects.aggregate(m=Max("id"))["m"] or 0

    def at(self, when: datetime, call: Callable[[], Any]) -> Any:
        result = call()
        events = Event.objects.filter(id__gt=self.last_event)
        messages = Message.objects.filter(id__gt=self.last_message)
        self.last_event = events.aggregate(m=Max("id"))["m"] or self.last_event
        self.last_message = messages.aggregate(m=Max("id"))["m"] or self.last_message
        events.update(created_at=when)
        messages.update(created_at=when)
        return result


def _later(rng: random.Random, after: datetime, now: datetime) -> datetime:
    """A moment after `after` and before now: minutes to a day later, never in the future."""
    room = (now - after).total_seconds()
    gap = min(rng.uniform(600, 26 * 3600), room * rng.uniform(0.15, 0.5))
    return after + timedelta(seconds=max(gap, 1))


def _working_hours(rng: random.Random, moment: datetime, now: datetime) -> datetime:
    """Move an agent's action out of nights and weekends, unless that would be in the future."""
    local = timezone.localtime(moment)
    if local.weekday() < 5 and 8 <= local.hour < 19:
        return moment
    day = local.date() + timedelta(days=1 if local.hour >= 19 else 0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    moved = timezone.make_aware(
        datetime.combine(day, time(rng.randrange(8, 11), rng.randrange(60)))
    )
    return moved if moved < now else moment


def _start_time(rng: random.Random, plan: str, channel: str, now: datetime) -> datetime:
    if plan == "new":  # mostly recent; the older ones show as overdue
        age = timedelta(minutes=min(5 + rng.expovariate(1 / (10 * 60)), 3 * 24 * 60))
    elif plan in ("resolved", "closed"):
        age = timedelta(days=rng.uniform(2, 60))
    else:
        age = timedelta(hours=min(1 + rng.expovariate(1 / 40), 10 * 24))
    start = now - age
    if channel in (Channel.PHONE, Channel.COUNTER):
        # Calls and visits happen while the bank is open: move to a weekday between 9:00 and 17:00.
        local = timezone.localtime(start)
        while local.weekday() >= 5:
            local -= timedelta(days=1)
        local = local.replace(hour=rng.randrange(9, 17), minute=rng.randrange(60))
        start = min(local, now - timedelta(minutes=5))
    return start


class ConversationBuilder:
    def __init__(self, teams: dict[str, Team], rng: random.Random, pool: RequestPool) -> None:
        self.teams = teams
        self.rng = rng
        self.pool = pool
        self.members = {
            slug: list(team.members.filter(is_active=True).order_by("username"))
            for slug, team in teams.items()
        }
        self.now = timezone.now()
        self.clock = _Clock()

    def _agent(self, slug: str, language: str) -> User:
        members = self.members[slug] or list(User.objects.filter(role=User.Role.ADMIN)[:1])
        speakers = [m for m in members if language in (m.languages or [])]
        return self.rng.choice(speakers or members)

    def _reply_text(self, language: str, customer: Customer, agent: User) -> str:
        first = (customer.display_name or "").split(" ")[0]
        if language == "en":
            template, detail = self.rng.choice(ENGLISH_REPLIES), self.rng.choice(ENGLISH_DETAILS)
        else:
            template, detail = self.rng.choice(FRENCH_REPLIES), self.rng.choice(FRENCH_DETAILS)
        return template.format(
            customer=first,
            detail=detail,
            Detail=detail[:1].upper() + detail[1:],
            agent=agent.display_name,
        )

    def build(self, customer: Customer) -> Conversation:
        rng, now = self.rng, self.now
        language = customer.preferred_language or "fr"
        request = self.pool.english_request() if language == "en" else self.pool.french()
        team = self.teams[request.team]
        identities = dict(customer.identities.values_list("kind", "value"))
        channels = [
            c
            for c in CHANNEL_WEIGHTS
            if c not in (Channel.SMS, Channel.PHONE) or "phone" in identities
        ]
        if "email" not in identities:
            channels = [
                c for c in channels if c not in (Channel.EMAIL, Channel.WEBFORM, Channel.CHAT)
            ]
        channel = rng.choices(channels, weights=[CHANNEL_WEIGHTS[c] for c in channels])[0]
        plan = rng.choices(list(PLAN_WEIGHTS), weights=list(PLAN_WEIGHTS.values()))[0]
        kind = (
            "phone"
            if channel in (Channel.SMS, Channel.PHONE) or "email" not in identities
            else "email"
        )
        agent = self._agent(request.team, language)
        when = _start_time(rng, plan, channel, now)
        start = when

        if channel in (Channel.PHONE, Channel.COUNTER):
            # A call or a visit: the agent writes down what the customer asked.
            conversation = self.clock.at(
                when,
                lambda: conversation_open(
                    actor=agent,
                    channel=channel,
                    customer_kind=kind,
                    customer_value=identities[kind],
                    customer_name=customer.display_name,
                    subject=request.subject,
                    text=request.text,
                    team=team,
                ),
            )
        else:
            conversation = self.clock.at(
                when,
                lambda: message_ingest(
                    InboundMessage(
                        channel=channel,
                        sender_kind=kind,
                        sender_value=identities[kind],
                        sender_name=customer.display_name,
                        subject="" if channel in (Channel.SMS, Channel.CHAT) else request.subject,
                        text=request.text,
                        team_id=team.pk,
                        language=language,
                    )
                ),
            ).conversation
        number = conversation.number
        times: dict[str, datetime] = {}

        def step(call: Callable[[], Any], by_agent: bool = True) -> None:
            nonlocal when
            when = _later(rng, when, now)
            if by_agent:
                when = _working_hours(rng, when, now)
            self.clock.at(when, call)

        def customer_writes(text: str) -> None:
            step(
                lambda: message_ingest(
                    InboundMessage(
                        channel=channel,
                        sender_kind=kind,
                        sender_value=identities[kind],
                        sender_name=customer.display_name,
                        text=text,
                        conversation_number=number,
                        team_id=team.pk,
                        language=language,
                    )
                ),
                by_agent=False,
            )

        follow_ups = FOLLOW_UPS_EN if language == "en" else FOLLOW_UPS_FR
        notes = NOTES_EN if language == "en" else NOTES_FR
        if plan == "new":
            if rng.random() < 0.15:
                customer_writes(follow_ups[0])
        else:
            step(lambda: conversation_claim(actor=agent, conversation=conversation))
            if rng.random() < 0.3 or plan == "waiting_third_party":
                step(
                    lambda: conversation_note_add(
                        actor=agent, conversation=conversation, text=rng.choice(notes)
                    )
                )
            if rng.random() < 0.12:
                priority = rng.choice([Priority.HIGH, Priority.HIGH, Priority.URGENT, Priority.LOW])
                step(
                    lambda: conversation_set_priority(
                        actor=agent, conversation=conversation, priority=priority
                    )
                )
            if plan != "claimed":
                step(
                    lambda: conversation_reply(
                        actor=agent,
                        conversation=conversation,
                        text=self._reply_text(language, customer, agent),
                    )
                )
            if plan == "open" and rng.random() < 0.5:
                customer_writes(rng.choice(follow_ups))
            if plan in ("waiting_customer", "waiting_third_party"):
                step(
                    lambda: conversation_set_status(
                        actor=agent, conversation=conversation, status=plan
                    )
                )
            if plan in ("resolved", "closed"):
                if rng.random() < 0.3:
                    customer_writes(THANKS[language])
                step(
                    lambda: conversation_set_status(
                        actor=agent, conversation=conversation, status=Status.RESOLVED
                    )
                )
                times["resolved"] = when
            if plan == "closed":
                step(
                    lambda: conversation_set_status(
                        actor=agent, conversation=conversation, status=Status.CLOSED
                    )
                )
                times["closed"] = when
        tags = list(request.tags) if rng.random() < 0.6 else []
        if tags:
            step(lambda: conversation_set_tags(actor=agent, conversation=conversation, names=tags))
        return self._backdate(conversation.pk, start, when, times)

    def _backdate(
        self, pk: int, start: datetime, last: datetime, times: dict[str, datetime]
    ) -> Conversation:
        """Recompute the conversation's timestamps and due times from its backdated history."""
        conversation = Conversation.objects.select_related("team__calendar").get(pk=pk)
        rows = list(
            conversation.messages.exclude(direction=Message.Direction.NOTE).values_list(
                "direction", "created_at"
            )
        )
        inbound = [at for direction, at in rows if direction == Message.Direction.INBOUND]
        outbound = [at for direction, at in rows if direction == Message.Direction.OUTBOUND]
        team = conversation.team
        conversation.created_at = start
        conversation.updated_at = last
        conversation.last_message_at = max(inbound + outbound)
        conversation.first_human_response_at = min(outbound) if outbound else None
        conversation.first_human_response_due = sla.first_human_response_due(team, start)
        conversation.resolution_due = sla.resolution_due(team, start)
        waiting_for_us = outbound and inbound and max(inbound) > max(outbound)
        conversation.next_response_due = (
            sla.next_response_due(team, max(inbound)) if waiting_for_us else None
        )
        conversation.resolved_at = times.get("resolved") if conversation.resolved_at else None
        conversation.closed_at = times.get("closed") if conversation.closed_at else None
        sla.refresh_due_at(conversation)
        fields = [
            "created_at",
            "updated_at",
            "last_message_at",
            "first_human_response_at",
            "first_human_response_due",
            "resolution_due",
            "next_response_due",
            "resolved_at",
            "closed_at",
            "due_at",
        ]
        Conversation.objects.filter(pk=pk).update(**{f: getattr(conversation, f) for f in fields})
        return conversation


@dataclass
class DemoResult:
    customers: int
    conversations: int
    used_datasets: bool


def demo_build(
    *,
    customers: int = 300,
    conversations: int = 400,
    seed: int | None = 1,
    datasets_dir: Path = DEFAULT_DATASETS_DIR,
    progress: bool = False,
) -> DemoResult:
    """Create the organisation (if missing), then customers and conversations."""
    rng = random.Random(seed)
    teams = organisation_build()
    counter_build(teams)
    pool = RequestPool(datasets_dir, rng)
    people = customers_build(customers, rng, progress=progress)
    if not people:
        people = list(Customer.objects.filter(merged_into__isnull=True)[:500])
    builder = ConversationBuilder(teams, rng, pool)
    made = 0
    # Demo replies are history, not mail to send.
    with senders.senders_suspended():
        # One conversation per transaction: a failure leaves whole conversations only.
        for _index in tqdm(
            range(conversations), desc="Conversations", unit="", disable=not progress
        ):
            with transaction.atomic():
                builder.build(rng.choice(people))
            made += 1
    # Customers were "created" just now too; date them before their first conversation.
    for customer in people:
        first = customer.conversations.order_by("created_at").values_list("created_at", flat=True)
        earliest = first.first() or timezone.now()
        Customer.objects.filter(pk=customer.pk).update(
            created_at=earliest - timedelta(days=rng.uniform(1, 3 * 365))
        )
    return DemoResult(customers=len(people), conversations=made, used_datasets=pool.used_datasets)
