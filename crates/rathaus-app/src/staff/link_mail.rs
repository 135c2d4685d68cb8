//! The e-mail that carries an enrolment or reset link to the account holder. An administrator
//! starts the process in the office but never sees the link: who holds it can take the account
//! over, so it goes only to the person's own address.

use rathaus_domain::localtime::berlin_date;
use rathaus_domain::service::form::format_date_de;
use time::OffsetDateTime;

use crate::mail::Email;

/// What the link lets the person do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkPurpose {
    /// Set up a new account: password and authenticator app.
    Enrol,
    /// A new password; the enrolled authenticator app stays.
    Reset,
    /// A new password and a new authenticator app (the old one no longer counts).
    SecondFactor,
}

pub(crate) fn link_email(
    to: &str,
    name: &str,
    tenant_title: &str,
    purpose: LinkPurpose,
    link: &str,
    expires: OffsetDateTime,
) -> Email {
    let until = format_date_de(berlin_date(expires));
    let (subject, what) = match purpose {
        LinkPurpose::Enrol => (
            format!("Ihr Zugang zur Verwaltung: {tenant_title}"),
            format!(
                "für Sie wurde ein Zugang zum Verwaltungsportal von {tenant_title} angelegt. Richten Sie ihn über diesen Link ein: Sie wählen ein Passwort und verbinden eine Authenticator-App."
            ),
        ),
        LinkPurpose::Reset => (
            format!("Neues Passwort für Ihren Zugang: {tenant_title}"),
            format!(
                "die Verwaltung von {tenant_title} hat für Ihren Zugang ein neues Passwort veranlasst. Über diesen Link wählen Sie es; zum Abschluss brauchen Sie einen Code aus Ihrer bisherigen Authenticator-App."
            ),
        ),
        LinkPurpose::SecondFactor => (
            format!("Ihr Zugang wurde zurückgesetzt: {tenant_title}"),
            format!(
                "die Verwaltung von {tenant_title} hat Ihren zweiten Faktor zurückgesetzt; Ihre bisherige Authenticator-App gilt nicht mehr. Über diesen Link wählen Sie ein neues Passwort und verbinden die App neu."
            ),
        ),
    };
    Email {
        to: to.to_owned(),
        subject,
        text: format!(
            "Guten Tag {name},\n\n{what}\n\n{link}\n\nDer Link gilt einmal und nur bis zum {until}. Geben Sie ihn nicht weiter: Wer ihn hat, kann Ihren Zugang übernehmen. Niemand aus der Verwaltung wird Sie danach fragen.\n\nWenn Sie das nicht erwartet haben, wenden Sie sich bitte an die Verwaltung Ihrer Kommune.\n\nDiese Nachricht wurde automatisch erstellt."
        ),
        reply_to: None,
    }
}
