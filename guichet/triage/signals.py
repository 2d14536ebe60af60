# ruff: noqa: RUF002  (French texts use the typographic apostrophe)
"""Signals in a customer's words, in French and English: transparent rules, no model.

Each signal is a list of cue patterns over a normalised text (lower case, accents removed,
apostrophes unified), so "Je veux parler à quelqu’un" and "je veux parler a quelqu'un" match
alike. A cue preceded in its clause by a negation ("ce n'est pas urgent", "I'm not angry") does
not count, unless the cue carries its negation itself ("toujours pas de réponse", "can't pay").
The words that matched are the reasons shown to agents.

Repeat contact (a customer writing again before any person answered) depends on the history,
not on the words: `guichet.triage.services` detects it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MODEL_VERSION = "signals-rules-1"

NEGATORS = frozenset(
    {
        # French ("n'" is caught by its prefix below)
        "pas", "ne", "jamais", "aucun", "aucune", "rien", "sans", "non", "nullement", "guere",
        # English ("n't" is caught by its suffix below)
        "not", "no", "never", "without", "nothing", "nobody", "hardly", "dont", "isnt", "wasnt",
    }
)  # fmt: skip
NEGATION_WINDOW = 4  # words before a cue, within its clause
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n()]|\b(mais|but|however|cependant|pourtant)\b")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Cue:
    pattern: re.Pattern[str]
    negatable: bool
    reason: str  # a sub-kind shown with the words (vulnerability: bereavement, eviction…)


def _cues(reason: str, patterns: list[str], *, negatable: bool = True) -> list[Cue]:
    return [Cue(re.compile(rf"\b(?:{p})\b"), negatable, reason) for p in patterns]


_PERSON_NOUN = (
    r"(?:vraie? )?(?:personne|humain|etre humain|conseill\w*|agent|interlocut\w*|responsable"
    r"|operat\w*)"
)
_PERSON_EN = (
    r"(?:real |actual |live )?(?:person|human|human being|agent|advisor|adviser|representative"
    r"|rep|operator|manager)"
)

PERSON_REQUEST = [
    *_cues(
        "asks",
        [
            rf"(?:parler|discuter|echanger|m'entretenir|etre en contact)\s+(?:a|avec)\s+"
            rf"(?:quelqu'un|une? {_PERSON_NOUN}|(?:mon|ma|votre|un|une) conseill\w*)",
            rf"(?:je veux|je voudrais|j'aimerais|je souhaite|je souhaiterais|je demande|"
            rf"j'exige|besoin d'|merci de me passer|passez-moi|mettez-moi en relation avec)\s*"
            rf"(?:quelqu'un|(?:un|une|mon|ma)\s+{_PERSON_NOUN})",
            r"joindre (?:quelqu'un|une? (?:vraie? )?(?:personne|conseill\w*|humain))",
            r"un (?:vrai )?humain|un etre humain|une vraie personne|quelqu'un de (?:reel|vrai)",
            r"(?:rappelez|appelez|contactez)[- ]moi|qu'on me rappelle|etre rappelee?"
            r"|me rappeler (?:svp|s'il vous plait|au)",
            rf"(?:speak|talk|chat)\s+(?:to|with)\s+(?:someone|somebody|a {_PERSON_EN}"
            rf"|an (?:actual |agent|advisor|adviser|operator|human)\w*|my (?:advisor|adviser"
            rf"|account manager)|your (?:manager|supervisor))",
            r"(?:want|need|get|give me)\s+(?:a|an)\s+(?:real |actual |live )?"
            r"(?:human|person|agent|advisor|adviser|representative)",
            r"(?:a|an) (?:real|actual|live) (?:person|human|agent)|human being",
            r"(?:call|ring|phone) me back|someone (?:to )?call me",
            r"humans?(?!\s+(?:resources|rights|error|nature))",
        ],
    ),
    *_cues(
        "asks",
        [
            r"pas (?:a )?(?:un|une|ce|votre) (?:robot|machine|bot|repondeur)",
            r"not (?:a|an|another|your) (?:bot|robot|machine|automated)",
            r"(?:stop|arretez) (?:the|this|your|le|ce|votre) (?:bot|robot)",
        ],
        negatable=False,
    ),
]

FRUSTRATION = [
    *_cues(
        "anger",
        [
            r"inadmissible|inacceptable|scandal\w*|honteu\w*|c'est une honte|lamentable",
            r"ras[- ]le[- ]bol|j'en ai marre|marre de|en colere|furieu\w*|exaspere\w*|excede\w*",
            r"insupportable|n'importe quoi|incompeten\w*|je suis (?:tres )?decue?|deception",
            r"porter plainte|une plainte|reclamation|mediateur|avocat|je vais resilier",
            r"changer de (?:banque|fournisseur|operateur|assureur)",
            r"unacceptable|ridiculous|outrageous|disgrace\w*|disgusting|appalling|shocking",
            r"fed up|sick (?:and tired|of)|furious|angry|annoyed|frustrat\w*|fuming|livid",
            r"terrible service|worst|useless|incompeten\w*|a joke|complaint|ombudsman|lawyer",
            r"cancel my (?:account|contract|subscription|policy)",
        ],
    ),
    *_cues(
        "waiting",
        [
            r"(?:toujours|encore) (?:pas|aucune?|rien)|personne ne (?:me )?(?:repond|rappelle)",
            r"(?:pour )?la (?:deuxieme|troisieme|quatrieme|enieme|xieme|\d+e) fois",
            r"still (?:no|not|nothing|waiting|haven't)|no one (?:answers|replies|has)",
            r"nobody (?:answers|replies|has)|(?:second|third|fourth|umpteenth) time",
            r"again and again|(?:weeks|days) (?:without|and no)",
        ],
        negatable=False,
    ),
]

URGENCY = [
    *_cues(
        "urgent",
        [
            r"urgent\w*|urgence|presse|au plus (?:vite|tot)|des que possible|immediatement",
            r"tout de suite|sans delai|dernier delai|(?:aujourd'hui|ce soir) (?:meme|au plus tard)",
            r"avant (?:demain|ce soir|la fin de (?:la journee|la semaine))",
            r"d'ici (?:ce soir|demain)",
            r"urgent\w*|emergency|asap|as soon as possible|immediately|right away|right now",
            r"time[- ]sensitive|deadline|by (?:tomorrow|tonight|the end of the day)",
        ],
    ),
    *_cues(
        "fraud or cut-off",
        [
            r"fraud\w*|piratage|pirate|(?:carte|telephone) vole\w*|vol de (?:ma |mon )?\w+",
            r"(?:a|ont) ete volee?s?|on m'a vole",
            r"debit\w* (?:inconnu|suspect)\w*|opposition sur|coupure (?:d'|de )\w+",
            r"stolen|hacked|unauthori[sz]ed (?:transaction|payment|charge|debit)",
            r"power cut|cut off|no (?:electricity|heating|water|gas)|sans (?:electricite|chauffage"
            r"|eau|gaz)",
        ],
    ),
]

VULNERABILITY = [
    *_cues(
        "bereavement",
        [
            r"deces|decedee?|est morte?|nous a quittes?|obseques|enterrement|funerailles",
            r"veuve?|succession|perdu (?:mon|ma|mes|notre) (?:mari|femme|pere|mere|fils|fille"
            r"|epou\w*|conjoint\w*|compagn\w*|enfants?|parents|frere|soeur)",
            r"passed away|died|death of|bereave\w*|funeral|widow\w*|estate of",
            r"lost my (?:husband|wife|father|mother|son|daughter|partner|child|parents|brother"
            r"|sister)",
        ],
    ),
    *_cues(
        "eviction",
        [
            r"expulse\w*|expulsion|huissier|commandement de (?:payer|quitter)|a la rue",
            r"sans (?:logement|domicile|abri)|sdf|loyers? impayes?|perdre (?:mon|notre) logement",
            r"evict\w*|bailiff|homeless|repossess\w*|lose (?:my|our) (?:home|house|flat"
            r"|apartment)|behind (?:on|with) (?:my |the )?rent",
        ],
    ),
    *_cues(
        "job or income loss",
        [
            r"licencie\w*|licenciement|perdu (?:mon|son) (?:emploi|travail|boulot)|chomage",
            r"plus de revenus?|fin de (?:mes )?droits|surendett\w*|difficultes financieres",
            r"laid off|lost my job|unemployed|redundan\w*|out of work|no income",
            r"financial (?:hardship|difficult\w*)|in debt",
        ],
    ),
    *_cues(
        "job or income loss",
        [
            r"sans (?:emploi|travail|ressources?)|(?:ne )?(?:peux|pouvons|peut) (?:plus|pas)"
            r" (?:payer|rembourser)|n'arrive (?:plus|pas) a (?:payer|rembourser)",
            r"(?:can't|cannot|can not|unable to|struggling to) (?:afford|pay)",
        ],
        negatable=False,
    ),
    *_cues(
        "illness",
        [
            r"malade|maladie|hospitalise\w*|hopital|cancer|chimio\w*|depression|fin de vie",
            r"illness|seriously ill|i am ill|i'm ill|hospital\w*|cancer|chemo\w*|surgery"
            r"|mental health|terminal\w*|depression",
        ],
    ),
    *_cues(
        "disability",
        [
            r"handicap\w*|invalidite|aveugle|malvoyante?|sourde?|malentendante?|fauteuil roulant",
            r"mdph|alzheimer|demence",
            r"disabled|disabilit\w*|blind|visually impaired|deaf|hard of hearing|wheelchair"
            r"|dementia|alzheimer\w*",
        ],
    ),
]

RULES: dict[str, list[Cue]] = {
    "person_request": PERSON_REQUEST,
    "frustration": FRUSTRATION,
    "urgency": URGENCY,
    "vulnerability": VULNERABILITY,
}


@dataclass(frozen=True)
class SignalFound:
    signal: str
    cues: tuple[str, ...]  # the words that matched, normalised
    reasons: tuple[str, ...]  # sub-kinds, e.g. ("bereavement",)


def normalise(text: str) -> str:
    """Lower case, no accents, one kind of apostrophe, single spaces."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2019", "'").replace("\u02bc", "'").replace("`", "'").replace("œ", "oe")
    return re.sub(r"[ \t\u00a0]+", " ", text.lower())


def _is_negator(word: str) -> bool:
    return word in NEGATORS or word.startswith("n'") or word.endswith("n't")


def _negated(text: str, start: int) -> bool:
    before = text[:start]
    clause_start = 0
    for found in _CLAUSE_BREAK.finditer(before):
        clause_start = found.end()
    words = _WORD.findall(before[clause_start:])[-NEGATION_WINDOW:]
    return any(_is_negator(word) for word in words)


def detect_signals(text: str, *, max_chars: int = 5000) -> list[SignalFound]:
    """The signals in `text` with the words that triggered them (empty list: none)."""
    normalised = normalise(text[:max_chars])
    found: list[SignalFound] = []
    for signal, cues in RULES.items():
        words: dict[str, None] = {}
        reasons: dict[str, None] = {}
        for cue in cues:
            for match in cue.pattern.finditer(normalised):
                if cue.negatable and _negated(normalised, match.start()):
                    continue
                words[match.group(0).strip()] = None
                reasons[cue.reason] = None
        if words:
            found.append(SignalFound(signal, tuple(words)[:5], tuple(reasons)))
    return found
