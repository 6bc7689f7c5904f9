"""What a new tenant starts with: the standard purposes, sources, legal-basis labels and consent texts."""

from __future__ import annotations

from dataclasses import dataclass

from samtykke.domain.consent import Channel, LegalBasis

SUPPORTED_LOCALES: tuple[str, ...] = ("da", "sv", "nb", "nl", "de", "en")
FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class StandardPurpose:
    purpose_id: str
    names: dict[str, str]
    channels: tuple[Channel, ...]
    default_legal_basis: LegalBasis
    double_opt_in: bool
    marketing: bool
    texts: dict[str, str]


SALES_AND_SERVICE = StandardPurpose(
    purpose_id="sales-and-service",
    names={
        "da": "Salg og kundeservice",
        "sv": "Försäljning och kundservice",
        "nb": "Salg og kundeservice",
        "nl": "Verkoop en klantenservice",
        "de": "Vertrieb und Kundenservice",
        "en": "Sales and customer service",
    },
    channels=(Channel.EMAIL, Channel.PHONE, Channel.POST),
    default_legal_basis=LegalBasis.CONTRACT,
    double_opt_in=False,
    marketing=False,
    texts={
        "da": "Jeg accepterer, at virksomheden opbevarer og behandler mine oplysninger for at kunne sælge til og "
        "betjene mig.",
        "sv": "Jag godkänner att företaget lagrar och behandlar mina uppgifter för försäljning och kundservice.",
        "nb": "Jeg godtar at virksomheten lagrer og behandler opplysningene mine for salg og kundeservice.",
        "nl": "Ik ga ermee akkoord dat het bedrijf mijn gegevens bewaart en verwerkt voor verkoop en klantenservice.",
        "de": "Ich bin einverstanden, dass das Unternehmen meine Daten für Vertrieb und Kundenservice speichert und "
        "verarbeitet.",
        "en": "I agree that the company stores and processes my data to sell to me and to serve me as a customer.",
    },
)

E_MARKETING = StandardPurpose(
    purpose_id="e-marketing",
    names={
        "da": "E-markedsføring",
        "sv": "E-marknadsföring",
        "nb": "E-markedsføring",
        "nl": "E-marketing",
        "de": "E-Marketing",
        "en": "E-marketing",
    },
    channels=(Channel.EMAIL, Channel.SMS),
    default_legal_basis=LegalBasis.CONSENT,
    double_opt_in=True,
    marketing=True,
    texts={
        "da": "Ja tak, send mig nyhedsbreve og tilbud på e-mail og SMS. Jeg kan altid framelde mig igen.",
        "sv": "Ja tack, skicka mig nyhetsbrev och erbjudanden via e-post och SMS. Jag kan när som helst avregistrera "
        "mig.",
        "nb": "Ja takk, send meg nyhetsbrev og tilbud på e-post og SMS. Jeg kan når som helst melde meg av.",
        "nl": "Ja, stuur mij nieuwsbrieven en aanbiedingen per e-mail en sms. Ik kan mij altijd weer afmelden.",
        "de": "Ja, senden Sie mir Newsletter und Angebote per E-Mail und SMS. Ich kann mich jederzeit abmelden.",
        "en": "Yes, send me newsletters and offers by email and SMS. I can unsubscribe at any time.",
    },
)

STANDARD_PURPOSES: tuple[StandardPurpose, ...] = (SALES_AND_SERVICE, E_MARKETING)

STANDARD_SOURCES: dict[str, str] = {
    "web-form": "Web form",
    "email": "E-mail",
    "chat": "Chat",
    "customer-portal": "Customer portal",
    "import": "Import",
    "phone": "Phone",
    "sms-keyword": "SMS keyword",
    "unsubscribe-link": "Unsubscribe link",
    "preference-centre": "Preference centre",
}
# The sources a public form post may name; the others are recorded only by samtykke itself or by staff.
PUBLIC_SOURCES: frozenset[str] = frozenset({"web-form", "customer-portal"})

LEGAL_BASIS_LABELS: dict[LegalBasis, str] = {
    LegalBasis.CONSENT: "Consent (Art. 6(1)(a))",
    LegalBasis.CONTRACT: "Contract (Art. 6(1)(b))",
    LegalBasis.LEGAL_OBLIGATION: "Legal obligation (Art. 6(1)(c))",
    LegalBasis.VITAL_INTERESTS: "Vital interests (Art. 6(1)(d))",
    LegalBasis.PUBLIC_TASK: "Public task (Art. 6(1)(e))",
    LegalBasis.LEGITIMATE_INTERESTS: "Legitimate interests (Art. 6(1)(f))",
    LegalBasis.WITHDRAWN: "Withdrawn",
}


def resolve_locale(requested: str | None, available: list[str] | tuple[str, ...], tenant_default: str) -> str:
    """The requested language if available, else the tenant's default, else English, else anything available."""
    candidates = []
    if requested:
        candidates.append(requested.split("-")[0].lower())
    candidates += [tenant_default, FALLBACK_LOCALE]
    for locale in candidates:
        if locale in available:
            return locale
    if not available:
        raise ValueError("no locale available")
    return available[0]
