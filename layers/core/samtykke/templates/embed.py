"""The embeddable form: its script, and the words it shows, per locale."""

from __future__ import annotations

from functools import cache
from importlib import resources

EMBED_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "email_label": "Email",
        "submit": "Subscribe",
        "choose": "Choose at least one.",
        "granted": "Thank you: your choices are saved.",
        "pending": "Thank you. Please confirm by opening the link we just emailed you.",
        "error": "Sorry, that did not work. Please check the address and try again.",
        "privacy_policy": "Privacy policy",
    },
    "da": {
        "email_label": "E-mail",
        "submit": "Tilmeld",
        "choose": "Vælg mindst én.",
        "granted": "Tak: dine valg er gemt.",
        "pending": "Tak. Bekræft venligst via linket, vi lige har sendt til din e-mail.",
        "error": "Beklager, det gik ikke. Tjek adressen, og prøv igen.",
        "privacy_policy": "Privatlivspolitik",
    },
    "sv": {
        "email_label": "E-post",
        "submit": "Prenumerera",
        "choose": "Välj minst en.",
        "granted": "Tack: dina val är sparade.",
        "pending": "Tack. Bekräfta via länken som vi just har mejlat dig.",
        "error": "Tyvärr fungerade det inte. Kontrollera adressen och försök igen.",
        "privacy_policy": "Integritetspolicy",
    },
    "nb": {
        "email_label": "E-post",
        "submit": "Meld på",
        "choose": "Velg minst én.",
        "granted": "Takk: valgene dine er lagret.",
        "pending": "Takk. Bekreft via lenken vi nettopp sendte deg på e-post.",
        "error": "Beklager, det gikk ikke. Sjekk adressen og prøv igjen.",
        "privacy_policy": "Personvernerklæring",
    },
    "nl": {
        "email_label": "E-mail",
        "submit": "Aanmelden",
        "choose": "Kies er minstens één.",
        "granted": "Bedankt: uw keuzes zijn opgeslagen.",
        "pending": "Bedankt. Bevestig via de link die we u zojuist hebben gemaild.",
        "error": "Dat is helaas niet gelukt. Controleer het adres en probeer het opnieuw.",
        "privacy_policy": "Privacybeleid",
    },
    "de": {
        "email_label": "E-Mail",
        "submit": "Anmelden",
        "choose": "Bitte wählen Sie mindestens eine Option.",
        "granted": "Danke: Ihre Auswahl ist gespeichert.",
        "pending": "Danke. Bitte bestätigen Sie über den Link, den wir Ihnen gerade gemailt haben.",
        "error": "Das hat leider nicht geklappt. Bitte prüfen Sie die Adresse und versuchen Sie es erneut.",
        "privacy_policy": "Datenschutzerklärung",
    },
}
EMBED_LOCALES = tuple(EMBED_MESSAGES)
MAX_SCRIPT_BYTES = 10 * 1024


@cache
def embed_script() -> str:
    script = resources.files("samtykke.templates").joinpath("embed.js").read_text(encoding="utf-8")
    if len(script.encode()) > MAX_SCRIPT_BYTES:
        raise RuntimeError("embed.js is over its 10 KB budget")
    return script
