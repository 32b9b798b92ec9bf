"""French wording of the values the dashboard shows (categories, regions, statuses…).

The tip domain stores stable English slugs; staff read French. One table per kind, with a
fallback to the slug so a value added to the domain later still shows up, if untranslated.
"""

from __future__ import annotations

from sini.regions import Region
from tips.model import Category, Elsewhere, Status, find_tip_region

CATEGORIES: dict[str, str] = {
    Category.DRUG_TRAFFICKING.value: "Trafic de drogue",
    Category.HUMAN_TRAFFICKING.value: "Traite des personnes",
    Category.CHILD_EXPLOITATION.value: "Exploitation d'enfants",
    Category.SEXUAL_EXPLOITATION.value: "Exploitation sexuelle",
    Category.OTHER.value: "Autre",
}

STATUSES: dict[str, str] = {
    Status.NEW.value: "Nouveau",
    Status.IN_REVIEW.value: "En cours d'examen",
    Status.FORWARDED.value: "Transmis",
    Status.CLOSED.value: "Clos",
    Status.REJECTED.value: "Rejeté (spam)",
}

ELSEWHERE: dict[Elsewhere, str] = {
    Elsewhere.ABROAD: "À l'étranger",
    Elsewhere.UNKNOWN: "Non précisée",
}
"""Tip regions outside Mali's regions; those are named by `sini.regions` (`Region.label`)."""

WHEN: dict[str, str] = {
    "today": "Aujourd'hui",
    "this_week": "Cette semaine",
    "earlier": "Plus tôt",
    "ongoing": "Ça continue",
}

ATTACHMENT_KINDS: dict[str, str] = {
    "photo": "Photo",
    "voice": "Message vocal",
    "video": "Vidéo",
    "document": "Document",
}

LOCALES: dict[str, str] = {"fr": "français", "bm": "bambara", "en": "anglais"}

ROLES: dict[str, str] = {
    "reviewer": "analyste",
    "counsellor": "conseiller",
    "admin": "administrateur",
}

AUDIT_ACTIONS: dict[str, str] = {
    "login.ok": "Connexion",
    "login.failed": "Échec de connexion",
    "login.locked": "Compte verrouillé",
    "login.throttled": "Adresse bloquée (trop d'échecs)",
    "logout": "Déconnexion",
    "tip.view": "Consultation d'un signalement",
    "attachment.view": "Consultation d'une pièce jointe",
    "tip.note": "Note interne",
    "tip.status": "Changement de statut",
    "tip.assign": "Attribution",
    "tip.reply": "Réponse à l'informateur",
    "tip.label": "Étiquette ajoutée",
    "tip.unlabel": "Étiquette retirée",
    "tip.important": "Marqué important",
    "tip.unimportant": "Plus marqué important",
    "tip.keep": "Conservation prolongée",
    "tip.search": "Recherche dans les signalements",
    "export.csv": "Export CSV",
    "user.add": "Ajout d'un compte",
    "user.disable": "Désactivation d'un compte",
    "user.reset_password": "Réinitialisation de mot de passe",
    "password.change": "Changement de mot de passe",
    "forward.add": "Ajout d'un organisme destinataire",
    "forward.remove": "Retrait d'un organisme destinataire",
    "keys.init": "Création de la clé du bureau",
    "keys.rotate": "Renouvellement de la clé du bureau",
    "tips.purge": "Purge (conservation)",
    "csrf.refused": "Requête refusée (jeton CSRF)",
    "access.refused": "Accès refusé (page d'administration)",
    "counsel.view": "Lecture d'une conversation d'écoute",
    "counsel.attachment": "Pièce jointe ouverte (écoute)",
    "counsel.claim": "Prise d'une conversation d'écoute",
    "counsel.reply": "Message à un jeune (écoute)",
    "counsel.close": "Fin d'une conversation d'écoute",
    "counsel.transfer": "Conversation transmise (écoute)",
    "counsel.card": "Adresse envoyée (écoute)",
    "counsel.requeue": "Remise dans la file (écoute)",
    "counsel.alias": "Prénom affiché (écoute)",
    "counsel.duty": "Permanence d'écoute (début ou fin)",
    "counsel.supervise": "Supervision de l'écoute",
}


def category(value: str) -> str:
    return CATEGORIES.get(value, value)


def status(value: str) -> str:
    return STATUSES.get(value, value)


def region(value: str) -> str:
    """The French name of the tip region stored as `value` ("segou" → "Ségou")."""
    match find_tip_region(value):
        case Region() as found:
            return found.label
        case Elsewhere() as found:
            return ELSEWHERE[found]
        case None:
            return value


def when(value: str | None) -> str:
    return WHEN.get(value, value) if value else "Non précisé"


def attachment_kind(value: str) -> str:
    return ATTACHMENT_KINDS.get(value, value)


def locale_name(value: str) -> str:
    return LOCALES.get(value, value)


def role(value: str) -> str:
    return ROLES.get(value, value)


def audit_action(value: str) -> str:
    return AUDIT_ACTIONS.get(value, value)


# How a young person came to ask for a counsellor (`sini.counselling.model.Origin`).
ORIGINS: dict[str, str] = {
    "menu": "menu",
    "intent": "l'a demandé",
    "crisis": "après une réponse de crise",
    "checkin": "après « es-tu en danger ? »",
    "clarify": "après deux incompréhensions",
    "message": "message laissé hors des heures",
}
# How urgent a conversation is (`sini.counselling.model.Risk`, by value).
RISKS: dict[int, str] = {2: "crise", 1: "à vérifier", 0: "ordinaire"}
# What a conversation was about, from its end summary (`sini.counselling.summary.Topic`).
TOPICS: dict[str, str] = {
    "drugs": "drogues",
    "trafficking": "traite, migration",
    "family": "famille",
    "violence": "violences",
    "mental_health": "santé mentale",
    "other": "autre",
}


def topic(value: str) -> str:
    return TOPICS.get(value, value)


def origin(value: str) -> str:
    return ORIGINS.get(value, value)


def risk(value: int) -> str:
    return RISKS.get(int(value), str(value))
