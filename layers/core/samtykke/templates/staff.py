"""Staff emails (invitation, password reset) and the set-password page, in da, sv, nb, nl, de and en."""

from __future__ import annotations

from samtykke.domain.defaults import FALLBACK_LOCALE
from samtykke.templates import _environment

STAFF_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "reset_subject": "Reset your {tenant} password",
        "reset_intro": "Someone asked to reset the password of your {tenant} staff account. Set a new one here:",
        "invite_subject": "You are invited to {tenant}",
        "invite_intro": "You have a staff account at {tenant}. Choose your password here:",
        "link_expiry": "The link works once, for {minutes} minutes.",
        "ignore": "If you did not expect this, ignore this email: nothing changes.",
        "page_title": "Choose a password",
        "page_label": "New password (at least 12 characters)",
        "page_button": "Save password",
        "done_title": "Your password is set",
        "done_body": "You can now log in. Every other session of yours has been ended.",
        "invalid_title": "This link does not work",
        "invalid_body": "The link is invalid, has expired or has already been used. Ask for a new one.",
    },
    "da": {
        "reset_subject": "Nulstil din adgangskode hos {tenant}",
        "reset_intro": "Nogen har bedt om at nulstille adgangskoden til din medarbejderkonto hos {tenant}. "
        "Vælg en ny her:",
        "invite_subject": "Du er inviteret til {tenant}",
        "invite_intro": "Du har fået en medarbejderkonto hos {tenant}. Vælg din adgangskode her:",
        "link_expiry": "Linket virker én gang, i {minutes} minutter.",
        "ignore": "Hvis du ikke ventede denne e-mail, kan du se bort fra den: intet ændres.",
        "page_title": "Vælg en adgangskode",
        "page_label": "Ny adgangskode (mindst 12 tegn)",
        "page_button": "Gem adgangskode",
        "done_title": "Din adgangskode er gemt",
        "done_body": "Du kan nu logge ind. Alle dine andre sessioner er afsluttet.",
        "invalid_title": "Linket virker ikke",
        "invalid_body": "Linket er ugyldigt, udløbet eller allerede brugt. Bed om et nyt.",
    },
    "sv": {
        "reset_subject": "Återställ ditt lösenord hos {tenant}",
        "reset_intro": "Någon har bett om att återställa lösenordet till ditt personalkonto hos {tenant}. "
        "Välj ett nytt här:",
        "invite_subject": "Du är inbjuden till {tenant}",
        "invite_intro": "Du har ett personalkonto hos {tenant}. Välj ditt lösenord här:",
        "link_expiry": "Länken fungerar en gång, i {minutes} minuter.",
        "ignore": "Om du inte väntade dig detta kan du bortse från e-postmeddelandet: inget ändras.",
        "page_title": "Välj ett lösenord",
        "page_label": "Nytt lösenord (minst 12 tecken)",
        "page_button": "Spara lösenord",
        "done_title": "Ditt lösenord är sparat",
        "done_body": "Du kan nu logga in. Alla dina andra sessioner har avslutats.",
        "invalid_title": "Länken fungerar inte",
        "invalid_body": "Länken är ogiltig, har gått ut eller har redan använts. Be om en ny.",
    },
    "nb": {
        "reset_subject": "Tilbakestill passordet ditt hos {tenant}",
        "reset_intro": "Noen har bedt om å tilbakestille passordet til den ansattkontoen din hos {tenant}. "
        "Velg et nytt her:",
        "invite_subject": "Du er invitert til {tenant}",
        "invite_intro": "Du har en ansattkonto hos {tenant}. Velg passordet ditt her:",
        "link_expiry": "Lenken virker én gang, i {minutes} minutter.",
        "ignore": "Hvis du ikke ventet denne e-posten, kan du se bort fra den: ingenting endres.",
        "page_title": "Velg et passord",
        "page_label": "Nytt passord (minst 12 tegn)",
        "page_button": "Lagre passord",
        "done_title": "Passordet ditt er lagret",
        "done_body": "Du kan nå logge inn. Alle de andre øktene dine er avsluttet.",
        "invalid_title": "Lenken virker ikke",
        "invalid_body": "Lenken er ugyldig, utløpt eller allerede brukt. Be om en ny.",
    },
    "nl": {
        "reset_subject": "Stel je wachtwoord bij {tenant} opnieuw in",
        "reset_intro": "Iemand heeft gevraagd het wachtwoord van je medewerkersaccount bij {tenant} opnieuw in te "
        "stellen. Kies hier een nieuw:",
        "invite_subject": "Je bent uitgenodigd voor {tenant}",
        "invite_intro": "Je hebt een medewerkersaccount bij {tenant}. Kies hier je wachtwoord:",
        "link_expiry": "De link werkt één keer, {minutes} minuten lang.",
        "ignore": "Verwachtte je dit niet? Negeer deze e-mail dan: er verandert niets.",
        "page_title": "Kies een wachtwoord",
        "page_label": "Nieuw wachtwoord (minstens 12 tekens)",
        "page_button": "Wachtwoord opslaan",
        "done_title": "Je wachtwoord is ingesteld",
        "done_body": "Je kunt nu inloggen. Al je andere sessies zijn beëindigd.",
        "invalid_title": "Deze link werkt niet",
        "invalid_body": "De link is ongeldig, verlopen of al gebruikt. Vraag een nieuwe aan.",
    },
    "de": {
        "reset_subject": "Passwort bei {tenant} zurücksetzen",
        "reset_intro": "Jemand hat darum gebeten, das Passwort Ihres Mitarbeiterkontos bei {tenant} "
        "zurückzusetzen. Wählen Sie hier ein neues:",
        "invite_subject": "Sie sind zu {tenant} eingeladen",
        "invite_intro": "Sie haben ein Mitarbeiterkonto bei {tenant}. Wählen Sie hier Ihr Passwort:",
        "link_expiry": "Der Link funktioniert einmal, {minutes} Minuten lang.",
        "ignore": "Wenn Sie das nicht erwartet haben, ignorieren Sie diese E-Mail: Es ändert sich nichts.",
        "page_title": "Passwort wählen",
        "page_label": "Neues Passwort (mindestens 12 Zeichen)",
        "page_button": "Passwort speichern",
        "done_title": "Ihr Passwort ist gespeichert",
        "done_body": "Sie können sich jetzt anmelden. Alle Ihre anderen Sitzungen wurden beendet.",
        "invalid_title": "Dieser Link funktioniert nicht",
        "invalid_body": "Der Link ist ungültig, abgelaufen oder wurde bereits verwendet. Fordern Sie einen neuen an.",
    },
}


def staff_messages(locale: str) -> tuple[str, dict[str, str]]:
    lang = locale if locale in STAFF_MESSAGES else FALLBACK_LOCALE
    return lang, STAFF_MESSAGES[lang]


def staff_email(purpose: str, locale: str, *, tenant: str, link: str, minutes: int) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an invitation (`invite`) or password-reset (`reset`) email."""
    lang, m = staff_messages(locale)
    kind = "invite" if purpose == "invite" else "reset"
    subject = m[f"{kind}_subject"].format(tenant=tenant)
    intro = m[f"{kind}_intro"].format(tenant=tenant)
    expiry = m["link_expiry"].format(minutes=minutes)
    text = f"{intro}\n\n{link}\n\n{expiry}\n{m['ignore']}\n"
    html = (
        _environment()
        .get_template("staff_email.html")
        .render(lang=lang, subject=subject, intro=intro, link=link, expiry=expiry, ignore=m["ignore"])
    )
    return subject, text, html


def password_page(locale: str, *, state: str, action: str = "", error_code: str | None = None) -> str:
    """The set-password page: `form`, `done` or `invalid`."""
    lang, m = staff_messages(locale)
    return (
        _environment()
        .get_template("staff_password_page.html")
        .render(lang=lang, m=m, state=state, action=action, error_code=error_code)
    )
