"""What a person sees when the consent form they posted from a browser was not accepted, per locale."""

from __future__ import annotations

# The problem shown for each error code; any other code gets "problem_other".
PROBLEMS = {
    "address_required": "problem_address",
    "invalid_email": "problem_address",
    "invalid_phone": "problem_address",
    "unknown_purpose": "problem_form",
    "purpose_inactive": "problem_form",
    "no_channel_for_address": "problem_address",
    "unknown_source": "problem_form",
    "unknown_text_version": "problem_form",
    "no_consent_text": "problem_form",
    "validation_failed": "problem_form",
}

FORM_ERRORS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your sign-up was not received",
        "problem_address": "Please check your email address or phone number.",
        "problem_form": "This form is not set up correctly, so nothing was saved. Please tell the website.",
        "problem_other": "Nothing was saved. Please go back and try again.",
        "back": "Back to the form",
    },
    "da": {
        "title": "Din tilmelding blev ikke modtaget",
        "problem_address": "Tjek venligst din e-mailadresse eller dit telefonnummer.",
        "problem_form": "Formularen er ikke sat rigtigt op, så intet blev gemt. Sig venligst besked til hjemmesiden.",
        "problem_other": "Intet blev gemt. Gå venligst tilbage og prøv igen.",
        "back": "Tilbage til formularen",
    },
    "sv": {
        "title": "Din anmälan togs inte emot",
        "problem_address": "Kontrollera din e-postadress eller ditt telefonnummer.",
        "problem_form": "Formuläret är inte rätt inställt, så inget sparades. Meddela gärna webbplatsen.",
        "problem_other": "Inget sparades. Gå tillbaka och försök igen.",
        "back": "Tillbaka till formuläret",
    },
    "nb": {
        "title": "Påmeldingen din ble ikke mottatt",
        "problem_address": "Sjekk e-postadressen eller telefonnummeret ditt.",
        "problem_form": "Skjemaet er ikke satt opp riktig, så ingenting ble lagret. Si gjerne fra til nettstedet.",
        "problem_other": "Ingenting ble lagret. Gå tilbake og prøv igjen.",
        "back": "Tilbake til skjemaet",
    },
    "nl": {
        "title": "Je aanmelding is niet ontvangen",
        "problem_address": "Controleer je e-mailadres of telefoonnummer.",
        "problem_form": "Dit formulier is niet goed ingesteld, dus er is niets opgeslagen. Laat het de website weten.",
        "problem_other": "Er is niets opgeslagen. Ga terug en probeer het opnieuw.",
        "back": "Terug naar het formulier",
    },
    "de": {
        "title": "Ihre Anmeldung ist nicht angekommen",
        "problem_address": "Bitte prüfen Sie Ihre E-Mail-Adresse oder Telefonnummer.",
        "problem_form": "Dieses Formular ist nicht richtig eingerichtet, es wurde nichts gespeichert. Bitte melden Sie "
        "es der Website.",
        "problem_other": "Es wurde nichts gespeichert. Bitte gehen Sie zurück und versuchen Sie es erneut.",
        "back": "Zurück zum Formular",
    },
}
