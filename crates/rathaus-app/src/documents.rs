//! Documents the platform issues as PDF: the receipt of a submission (later: notices).

use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::service::Lang;
use rathaus_domain::service::flow::SummarySection;
use rathaus_domain::tenant::{Tenant, TenantProfile};
use rathaus_pdf::{Block, Document, Letterhead, printable};
use time::OffsetDateTime;

use crate::AppError;
use crate::citizen::{CaseStatus, status_label};

pub(crate) fn letterhead(
    tenant: &Tenant,
    profile: &TenantProfile,
    logo: Option<Vec<u8>>,
) -> Letterhead {
    let mut lines: Vec<String> = profile.address.iter().skip(1).cloned().collect();
    if let Some(e) = &profile.email {
        lines.push(e.clone());
    }
    if let Some(w) = &profile.website {
        lines.push(w.clone());
    }
    Letterhead {
        authority: tenant.title(),
        return_address: (!profile.address.is_empty()).then(|| profile.address.join(" · ")),
        lines,
        logo_png: logo,
    }
}

pub(crate) fn receipt(
    tenant: &Tenant,
    profile: &TenantProfile,
    logo: Option<Vec<u8>>,
    status: &CaseStatus,
    sections: &[SummarySection],
    lang: Lang,
    now: OffsetDateTime,
) -> Result<Vec<u8>, AppError> {
    let def = &status.service.definition;
    let case = &status.case;
    let (heading, intro, ref_label, received, state) = match lang {
        Lang::En => (
            "Confirmation of receipt",
            "We have received your submission with the following content.",
            "Reference",
            "Received",
            "Status",
        ),
        Lang::Ls => (
            "Ihre Meldung ist angekommen",
            "Wir haben Ihre Meldung bekommen. Das haben Sie uns geschrieben:",
            "Ihre Nummer",
            "Angekommen am",
            "Stand",
        ),
        Lang::De => (
            "Eingangsbestätigung",
            "Ihr Antrag ist mit dem folgenden Inhalt bei uns eingegangen.",
            "Aktenzeichen",
            "Eingegangen am",
            "Stand",
        ),
    };
    let mut blocks = vec![
        Block::Heading(format!("{heading}: {}", printable(def.title.get(lang)))),
        Block::Paragraph(intro.to_owned()),
        Block::KeyValues(vec![
            (ref_label.to_owned(), case.reference.clone()),
            (
                received.to_owned(),
                format_berlin(from_unix_ms(case.submitted_at_ms)),
            ),
            (
                state.to_owned(),
                status_label(&case.status, lang).to_owned(),
            ),
        ]),
    ];
    for s in sections {
        blocks.push(Block::Subheading(printable(&s.title)));
        blocks.push(Block::KeyValues(
            s.rows
                .iter()
                .map(|r| (printable(&r.label), printable(&r.value.join("\n"))))
                .collect(),
        ));
    }
    blocks.push(Block::Spacer);
    blocks.push(Block::Paragraph(match lang {
        Lang::En => {
            "This confirmation was generated automatically and is valid without a signature."
                .to_owned()
        }
        _ => "Diese Bestätigung wurde maschinell erstellt und ist ohne Unterschrift gültig."
            .to_owned(),
    }));
    let doc = Document {
        title: format!("{heading} {}", case.reference),
        lang: if lang == Lang::En {
            "en-GB".into()
        } else {
            "de-DE".into()
        },
        created: now,
        letterhead: letterhead(tenant, profile, logo),
        recipient: Vec::new(),
        date_line: Some(format_berlin(now)),
        reference_lines: vec![(ref_label.to_owned(), case.reference.clone())],
        blocks,
        footer: vec![format!(
            "{} · {}",
            tenant.title(),
            profile
                .address
                .iter()
                .skip(1)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )],
    };
    rathaus_pdf::render(&doc).map_err(|e| AppError::Internal(format!("receipt: {e}")))
}

/// The notice (Bescheid) of a decision, from the service's notice template; `None` for services
/// without one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn notice(
    tenant: &Tenant,
    profile: &TenantProfile,
    logo: Option<Vec<u8>>,
    case: &rathaus_store::cases::Case,
    service: &crate::services::OfferedService,
    outcome: rathaus_domain::casework::Outcome,
    reasons: &str,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<Option<Vec<u8>>, AppError> {
    let def = &service.definition;
    let Some(t) = &def.notice else {
        return Ok(None);
    };
    let text = match outcome {
        rathaus_domain::casework::Outcome::Approved => &t.approved,
        rathaus_domain::casework::Outcome::Rejected => &t.rejected,
    };
    let submitted = format_berlin(from_unix_ms(case.submitted_at_ms));
    let submitted_day = submitted.split(',').next().unwrap_or(&submitted).to_owned();
    let authority = tenant.title();
    let fill = |s: &str| {
        s.replace("{reference}", &case.reference)
            .replace("{service}", def.title.get(lang))
            .replace("{submitted}", &submitted_day)
            .replace("{reasons}", reasons)
            .replace("{authority}", &authority)
    };
    let (ref_label, date_label, remedy_head) = match lang {
        Lang::En => ("Reference", "Date", "Legal remedy"),
        _ => ("Aktenzeichen", "Datum", "Rechtsbehelfsbelehrung"),
    };
    let today = format_berlin(now);
    let today_day = today.split(',').next().unwrap_or(&today).to_owned();
    let mut blocks = vec![Block::Heading(printable(&fill(text.subject.get(lang))))];
    for para in fill(text.body.get(lang)).split("\n\n") {
        blocks.push(Block::Paragraph(printable(para)));
    }
    blocks.push(Block::Subheading(remedy_head.to_owned()));
    blocks.push(Block::Paragraph(printable(&fill(t.legal_remedy.get(lang)))));
    let mut signature: Vec<String> = profile.signature.iter().map(|l| printable(l)).collect();
    signature.push(match lang {
        Lang::En => {
            "This notice was issued electronically and is valid without a signature.".to_owned()
        }
        _ => "Dieser Bescheid wurde elektronisch erstellt und ist ohne Unterschrift gültig."
            .to_owned(),
    });
    blocks.push(Block::Signature(signature));
    let place = profile
        .address
        .last()
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let doc = Document {
        title: format!("Bescheid {}", case.reference),
        lang: if lang == Lang::En {
            "en-GB".into()
        } else {
            "de-DE".into()
        },
        created: now,
        letterhead: letterhead(tenant, profile, logo),
        recipient: Vec::new(),
        date_line: Some(if place.is_empty() {
            today_day.clone()
        } else {
            format!("{place}, {today_day}")
        }),
        reference_lines: vec![
            (ref_label.to_owned(), case.reference.clone()),
            (date_label.to_owned(), today_day),
        ],
        blocks,
        footer: footer(tenant, profile),
    };
    rathaus_pdf::render(&doc)
        .map(Some)
        .map_err(|e| AppError::Internal(format!("notice: {e}")))
}

/// Bank details and address at the foot of every page.
pub(crate) fn footer(tenant: &Tenant, profile: &TenantProfile) -> Vec<String> {
    let mut lines = vec![format!(
        "{} · {}",
        tenant.title(),
        profile
            .address
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )];
    if let Some(b) = &profile.bank {
        lines.push(format!(
            "Bankverbindung: {} · IBAN {}",
            b.bank_name.clone().unwrap_or_default(),
            b.iban
        ));
    }
    lines
}
