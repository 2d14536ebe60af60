"""Realistic French and English text for benchmark conversations.

Customer sentences come from the public intent datasets in /work/shared/datasets when they are
present (Banking77 train split, English; french_intents_wikit train split, French), for internal
measurement only; they are read at run time and never copied into the repository. A built-in list
of banking and public-service sentences is always mixed in (and used alone when the datasets are
absent), so the search pairs below always have matches.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

DATASETS = Path(os.environ.get("GUICHET_BENCH_DATASETS", "/work/shared/datasets"))

# (intent, sentence). Written for this benchmark.
FR_BUILTIN: list[tuple[str, str]] = [
    ("carte_bloquee", "Ma carte bancaire est bloquée depuis ce matin et je ne peux plus payer."),
    ("carte_bloquee", "Ma carte est bloquée après trois codes faux, comment la débloquer ?"),
    ("carte_bloquee", "Le distributeur a avalé ma carte, elle est maintenant bloquée."),
    ("carte_bloquee", "Pouvez-vous débloquer ma carte bleue, je suis à l'étranger."),
    ("carte_perdue", "J'ai perdu ma carte hier soir, pouvez-vous faire opposition ?"),
    ("carte_perdue", "On m'a volé mon portefeuille avec ma carte de crédit."),
    (
        "carte_nouvelle",
        "Je n'ai toujours pas reçu ma nouvelle carte, commandée il y a trois semaines.",
    ),
    (
        "carte_paiement",
        "Mon paiement par carte a été refusé chez le commerçant alors que mon compte "
        "est approvisionné.",
    ),
    ("virement", "Mon virement international n'est pas arrivé sur le compte du bénéficiaire."),
    ("virement", "Le virement permanent de loyer n'a pas été exécuté ce mois-ci."),
    ("virement", "Comment ajouter un nouveau bénéficiaire pour faire un virement ?"),
    ("virement", "J'ai fait un virement vers le mauvais compte, peut-on l'annuler ?"),
    ("prelevement", "Un prélèvement que je ne reconnais pas apparaît sur mon relevé de compte."),
    ("prelevement", "Je souhaite contester un prélèvement de mon fournisseur d'électricité."),
    ("frais", "Je ne comprends pas les frais de tenue de compte prélevés ce mois-ci."),
    ("frais", "Pourquoi ai-je payé des frais sur un retrait d'espèces au distributeur ?"),
    ("compte", "Je voudrais clôturer mon compte courant et transférer le solde."),
    ("compte", "Comment obtenir un relevé d'identité bancaire pour mon employeur ?"),
    ("compte", "Mon compte est à découvert alors que mon salaire aurait dû être versé."),
    ("acces", "Je n'arrive plus à me connecter à l'application, mon mot de passe est refusé."),
    ("acces", "Le code de validation par SMS n'arrive jamais sur mon téléphone."),
    ("acces", "Mon accès en ligne est verrouillé après plusieurs tentatives."),
    ("credit", "Je souhaite un rendez-vous avec mon conseiller pour un crédit immobilier."),
    ("credit", "Puis-je rembourser par anticipation mon prêt personnel sans pénalité ?"),
    ("credit", "L'échéance de mon crédit a été prélevée deux fois ce mois-ci."),
    (
        "assurance",
        "Je dois déclarer un sinistre sur mon assurance habitation après un dégât des eaux.",
    ),
    ("assurance", "Mon assurance auto a augmenté sans explication, je voudrais comprendre."),
    ("assurance", "Comment résilier mon contrat d'assurance à la date anniversaire ?"),
    (
        "reclamation",
        "Cela fait trois fois que j'appelle et personne ne me rappelle, je suis très mécontent.",
    ),
    ("reclamation", "J'attends une réponse depuis deux semaines, merci de traiter ma demande."),
    ("reclamation", "Je souhaite parler à un conseiller, pas à un robot."),
    ("adresse", "J'ai déménagé, comment mettre à jour mon adresse postale ?"),
    ("adresse", "Mes relevés papier arrivent toujours à mon ancienne adresse."),
    (
        "documents",
        "Je vous envoie en pièce jointe mon justificatif de domicile et ma pièce d'identité.",
    ),
    ("documents", "Pouvez-vous me confirmer la réception de mon dossier complet ?"),
    ("rendez_vous", "Je voudrais prendre rendez-vous à l'agence la semaine prochaine."),
    ("rendez_vous", "Ma mère ne peut pas se déplacer, un conseiller peut-il l'appeler ?"),
    ("aide", "Je ne suis pas à l'aise avec internet, pouvez-vous m'aider par téléphone ?"),
    ("chequier", "Je voudrais commander un nouveau chéquier."),
    ("chequier", "Un chèque déposé il y a dix jours n'apparaît toujours pas sur mon compte."),
]

EN_BUILTIN: list[tuple[str, str]] = [
    ("card_blocked", "My card is blocked and I cannot pay for anything today."),
    ("card_blocked", "The cash machine kept my card and now it seems to be blocked."),
    ("card_lost", "I lost my card yesterday, please cancel it as soon as possible."),
    ("transfer", "My international transfer has not arrived in the recipient's account."),
    ("transfer", "I sent money to the wrong account, can the transfer be reversed?"),
    ("direct_debit", "There is a direct debit on my statement that I do not recognise."),
    ("fees", "Why was I charged a fee for withdrawing cash abroad?"),
    ("access", "I cannot log in to the app, the verification code never arrives."),
    ("complaint", "I have been waiting two weeks for an answer, please deal with my request."),
    ("complaint", "I would like to speak to a person, not a chatbot."),
    ("address", "I moved house, how do I update my postal address?"),
    ("refund", "The refund from the merchant is still pending on my account."),
]

FR_AGENT = [
    "Nous avons bien reçu votre demande et nous vous remercions de votre patience.",
    "J'ai vérifié votre dossier : l'opération est en cours de traitement par nos services.",
    "Votre carte a été débloquée, vous pouvez de nouveau l'utiliser dès maintenant.",
    "J'ai fait opposition sur votre carte et une nouvelle carte vous sera envoyée sous cinq jours.",
    "Le virement a été retrouvé, il sera crédité sur le compte du bénéficiaire demain.",
    "Les frais ont été remboursés à titre commercial, vous les verrez sur votre prochain relevé.",
    "Pourriez-vous nous transmettre une copie de votre pièce d'identité ?",
    "Votre conseiller vous rappellera demain matin entre 9 h et 11 h.",
    "Nous avons transmis votre réclamation au service concerné, qui vous répondra sous 48 heures.",
    "Vous pouvez aussi passer à l'agence, un conseiller vous recevra sans rendez-vous le samedi.",
    "Je reste à votre disposition si vous avez d'autres questions.",
    "Le prélèvement contesté a été rejeté et le montant vous a été restitué.",
    "Votre nouvelle adresse est enregistrée pour tous vos contrats.",
    "Pour réinitialiser votre mot de passe, utilisez le lien « mot de passe oublié ».",
]

EN_AGENT = [
    "Thank you for your message, we have received your request.",
    "I have checked your file: the operation is being processed by our back office.",
    "Your card has been unblocked and can be used again right away.",
    "I have cancelled your card and a new one will be sent within five working days.",
    "We found the transfer, it will reach the recipient's account tomorrow.",
    "The fees have been refunded as a goodwill gesture.",
    "Could you send us a copy of your identity document?",
    "Your advisor will call you back tomorrow morning between 9 and 11 am.",
    "We have passed your complaint to the team in charge, who will answer within 48 hours.",
    "Please let me know if there is anything else I can do for you.",
]

FR_NOTES = [
    "Client rappelé, pas de réponse, message laissé sur le répondeur.",
    "Vérifié dans l'outil cartes : blocage suite à trois codes faux.",
    "Demande transmise au back-office virements, référence interne ajoutée au dossier.",
    "Client connu, déjà deux réclamations cette année, traiter en priorité.",
    "Attente du justificatif avant de lancer le remboursement.",
    "Voir avec le conseiller référent avant de répondre.",
]

EN_NOTES = [
    "Called the customer back, no answer, left a voicemail.",
    "Checked the card tool: blocked after three wrong PINs.",
    "Passed to the transfers back office, internal reference added.",
    "Waiting for the document before refunding.",
]

FIRST_NAMES = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Sarah",
    "Jade",
    "Louise",
    "Emma",
    "Alice",
    "Lucas",
    "Hugo",
    "Louis",
    "Nathan",
    "Gabriel",
    "Arthur",
    "Jules",
    "Mohamed",
    "Yanis",
    "Paul",
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Françoise",
    "Jean",
    "Philippe",
    "Michel",
    "Éric",
    "Karim",
    "Fatima",
    "Aïcha",
    "Olivia",
    "James",
    "Emily",
    "Oliver",
    "Sophie",
    "Noah",
    "Zoé",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Benali",
    "Nguyen",
    "Diallo",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Évrard",
]

# Two-word searches an agent would type; all of them occur in the generated text.
SEARCH_PAIRS = [
    "carte bloquée",
    "virement international",
    "prélèvement relevé",
    "mot passe",
    "nouvelle carte",
    "frais retrait",
    "assurance habitation",
    "crédit immobilier",
    "card blocked",
    "transfer account",
    "direct debit",
    "refund pending",
]


@dataclass
class Corpus:
    fr: list[tuple[str, str]] = field(default_factory=list)
    en: list[tuple[str, str]] = field(default_factory=list)
    source: str = "built-in"

    _plain: dict[str, list[str]] = field(default_factory=dict)

    def customer_sentences(self, language: str) -> list[tuple[str, str]]:
        """(intent, sentence) pairs of a language."""
        return self.fr if language == "fr" else self.en

    def sentences(self, language: str) -> list[str]:
        if language not in self._plain:
            self._plain[language] = [s for _intent, s in self.customer_sentences(language)]
        return self._plain[language]


def _read_csv(path: Path, text_col: str, label_col: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            text = " ".join((row.get(text_col) or "").split())
            if 15 <= len(text) <= 400:
                rows.append(((row.get(label_col) or "")[:100], text))
    return rows


def load_corpus() -> Corpus:
    """Dataset sentences when present, mixed with the built-in ones (weighted so they show)."""
    corpus = Corpus()
    sources = []
    en_path = DATASETS / "banking77" / "train.csv"
    fr_path = DATASETS / "french_intents_wikit" / "training_dataset.csv"
    if en_path.exists():
        corpus.en = _read_csv(en_path, "text", "category")
        sources.append(f"{en_path} ({len(corpus.en)} sentences)")
    if fr_path.exists():
        corpus.fr = _read_csv(fr_path, "utterance", "intent")
        sources.append(f"{fr_path} ({len(corpus.fr)} sentences)")
    # Built-in sentences are banking ones: give them about half the French draws and a tenth
    # of the English ones.
    corpus.fr += FR_BUILTIN * max(1, len(corpus.fr) // len(FR_BUILTIN))
    corpus.en += EN_BUILTIN * max(1, len(corpus.en) // (10 * len(EN_BUILTIN)))
    corpus.source = "built-in sentences" + (" + " + ", ".join(sources) if sources else " only")
    return corpus


GREETING = {
    "fr": ("Bonjour,", "Madame, Monsieur,", "Bonsoir,"),
    "en": ("Hello,", "Hi,", "Dear team,"),
}
CLOSING = {
    "fr": ("Cordialement,", "Merci d'avance,", "Bien à vous,"),
    "en": ("Kind regards,", "Thanks,", "Best wishes,"),
}


def _fill_to(rng: random.Random, first: str, pool: list[str], low: int, high: int) -> str:
    """Join sentences (first, then random ones from pool) to a length drawn in [low, high]."""
    target = rng.randint(low, high)
    parts = [first]
    size = len(first)
    while size < target:
        sentence = rng.choice(pool)
        parts.append(sentence)
        size += len(sentence) + 1
    return " ".join(parts)


def message_text(
    rng: random.Random,
    *,
    kind: str,
    language: str,
    corpus: Corpus,
    first: str,
    name: str,
    low: int = 300,
    high: int = 1500,
) -> str:
    """A message of low..high characters: greeting, body, closing and signature."""
    lang = "fr" if language == "fr" else "en"
    if kind == "note":  # internal note: no greeting
        notes = FR_NOTES if lang == "fr" else EN_NOTES
        text = _fill_to(rng, first, notes + (FR_AGENT if lang == "fr" else EN_AGENT), low, high)
        return _clip(text, high)
    greeting = rng.choice(GREETING[lang])
    closing = f"{rng.choice(CLOSING[lang])}\n{name}"
    frame = len(greeting) + len(closing) + 4
    agent_pool = FR_AGENT if lang == "fr" else EN_AGENT
    pool = corpus.sentences(lang) if kind == "inbound" else agent_pool
    body = _fill_to(rng, first, pool, low - frame, high - frame)
    return _clip(f"{greeting}\n\n{body}\n\n{closing}", high)


def _clip(text: str, high: int) -> str:
    if len(text) <= high:
        return text
    cut = text.rfind(" ", 0, high)
    return text[: cut if cut > 0 else high]


def person_name(index: int) -> str:
    return (
        f"{FIRST_NAMES[index % len(FIRST_NAMES)]} "
        f"{LAST_NAMES[(index // len(FIRST_NAMES) * 7 + index) % len(LAST_NAMES)]}"
    )
