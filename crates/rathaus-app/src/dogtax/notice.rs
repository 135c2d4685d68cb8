//! The notices: Hundesteuerbescheid, Änderungsbescheid and the fee notice for a replacement tag.
//!
//! A notice is stored as its content (sealed) and rendered from it, so that it can be printed again
//! exactly as issued: the content carries the authority's details as they were on the day of issue.

use rathaus_domain::dogtax::{Assessment, Installment, MonthStatus, Statute};
use rathaus_domain::localtime::from_unix_ms;
use rathaus_domain::sepa::{Iban, Remittance, epc_qr_payload};
use rathaus_domain::tenant::{Tenant, TenantProfile};
use rathaus_pdf::{Block, Document, Letterhead, Table, printable};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::facts::{HolderFacts, PaymentFacts};
use crate::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Hundesteuerbescheid: the first notice of a year for a household.
    Tax,
    /// Änderungsbescheid: a later notice of the same year replacing the previous one.
    Change,
    /// Gebührenbescheid for a replacement tag.
    Fee,
}

impl NoticeKind {
    pub fn code(self) -> &'static str {
        match self {
            NoticeKind::Tax => "tax",
            NoticeKind::Change => "change",
            NoticeKind::Fee => "fee",
        }
    }
}

/// The issuing municipality as it was on the day of issue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Authority {
    pub title: String,
    pub address: Vec<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub phone: Option<String>,
    pub office_hours: Vec<String>,
    pub bank_holder: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub bank_name: Option<String>,
    pub creditor_id: Option<String>,
    pub example_data: bool,
}

impl Authority {
    pub(crate) fn of(tenant: &Tenant, profile: &TenantProfile) -> Authority {
        Authority {
            title: tenant.title(),
            address: profile.address.clone(),
            email: profile.email.clone(),
            website: profile.website.clone(),
            phone: profile.phone.clone(),
            office_hours: profile.office_hours.clone(),
            bank_holder: profile.bank.as_ref().map(|b| b.holder.clone()),
            iban: profile.bank.as_ref().map(|b| b.iban.clone()),
            bic: profile.bank.as_ref().and_then(|b| b.bic.clone()),
            bank_name: profile.bank.as_ref().and_then(|b| b.bank_name.clone()),
            creditor_id: profile.creditor_id.clone(),
            example_data: profile.example_data,
        }
    }
}

/// One dog as the notice lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDog {
    pub name: String,
    pub tag: Option<String>,
    /// Months of the year in which the dog pays tax.
    pub months: u32,
    /// The annual rates that apply, each with the months (1–12) it applies in.
    pub rates: Vec<RatePeriod>,
    pub amount: Decimal,
    /// Labels of the exemption or reduction, as the statute words them.
    pub exemption: Option<String>,
    pub reduction: Option<String>,
    pub dangerous: bool,
    /// `YYYY-MM-DD` when the keeping ended.
    pub kept_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePeriod {
    pub first_month: u8,
    pub last_month: u8,
    /// The statute's annual rate after any reduction.
    pub annual: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// `YYYY-MM-DD`.
    pub due: String,
    pub amount: Decimal,
}

impl Due {
    pub(crate) fn from_installment(i: &Installment) -> Due {
        Due {
            due: i.due.to_string(),
            amount: i.amount,
        }
    }
}

/// What a replacement tag costs and which tag it replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeDetails {
    pub amount: Decimal,
    pub due: String,
    pub dog_name: String,
    pub old_tag: String,
    pub new_tag: String,
}

/// A dog whose keeping ended with this notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    pub dog_name: String,
    pub tag: Option<String>,
    pub kept_until: String,
    pub reason: Option<String>,
}

/// Everything a notice says; stored sealed, rendered to PDF on demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeContent {
    pub kind: NoticeKind,
    pub year: i32,
    /// `YYYY-MM-DD`, the date the notice bears.
    pub issued_on: String,
    pub issued_at_ms: i64,
    /// The Aktenzeichen of the case that led to the notice, if any.
    pub case_reference: Option<String>,
    pub kassenzeichen: String,
    pub authority: Authority,
    pub holder: HolderFacts,
    /// `valid_from` of the Satzung version applied (the one in force on 1 January).
    pub statute_valid_from: Option<String>,
    pub dogs: Vec<NoticeDog>,
    /// The tax of each period at its regular due date.
    pub schedule: Vec<Due>,
    /// What is collected when.
    pub installments: Vec<Due>,
    /// The year's tax as now set.
    pub total: Decimal,
    /// The year's tax as set by the previous notice (change notices).
    pub previous_total: Option<Decimal>,
    /// Paid in excess and not set off against later installments.
    pub refund: Decimal,
    pub payment: PaymentFacts,
    pub ending: Option<Ending>,
    pub fee: Option<FeeDetails>,
}

impl NoticeContent {
    pub fn title(&self) -> String {
        match self.kind {
            NoticeKind::Tax => format!("Hundesteuerbescheid {}", self.year),
            NoticeKind::Change => format!("Änderungsbescheid Hundesteuer {}", self.year),
            NoticeKind::Fee => "Gebührenbescheid Ersatz-Steuermarke".to_owned(),
        }
    }

    /// The amounts due on a date.
    pub fn due_on(&self, due: &str) -> Decimal {
        self.installments
            .iter()
            .filter(|i| i.due == due)
            .map(|i| i.amount)
            .sum()
    }
}

/// Each dog's lines of a notice from the engine's working.
pub(crate) fn notice_dogs(
    assessment: Option<&Assessment>,
    statute: Option<&Statute>,
    tags: &[Option<String>],
    kept_until: &[Option<String>],
    dangerous: &[bool],
    codes: &[(Option<String>, Option<String>)],
) -> Vec<NoticeDog> {
    let Some(assessment) = assessment else {
        return Vec::new();
    };
    assessment
        .dogs
        .iter()
        .enumerate()
        .map(|(i, dog)| {
            let mut rates: Vec<RatePeriod> = Vec::new();
            for (m, status) in dog.months.iter().enumerate() {
                let month = u8::try_from(m + 1).unwrap_or(12);
                if let MonthStatus::Charged(c) = status {
                    let annual = c.annual_after_reduction();
                    match rates.last_mut() {
                        Some(r) if r.annual == annual && r.last_month + 1 == month => {
                            r.last_month = month;
                        }
                        _ => rates.push(RatePeriod {
                            first_month: month,
                            last_month: month,
                            annual,
                        }),
                    }
                }
            }
            let (exemption, reduction) = codes.get(i).cloned().unwrap_or((None, None));
            let label_e = exemption.and_then(|code| {
                statute
                    .and_then(|s| s.exemption(&code))
                    .map(|e| e.label().to_owned())
                    .or(Some(code))
            });
            let label_r = reduction.and_then(|code| {
                statute
                    .and_then(|s| s.reduction(&code))
                    .map(|r| format!("{} ({} %)", r.label(), r.percent()))
                    .or(Some(code))
            });
            NoticeDog {
                name: dog.name.clone(),
                tag: tags.get(i).cloned().flatten(),
                months: dog.charged_months(),
                rates,
                amount: dog.amount,
                exemption: label_e,
                reduction: label_r,
                dangerous: dangerous.get(i).copied().unwrap_or(false),
                kept_until: kept_until.get(i).cloned().flatten(),
            }
        })
        .collect()
}

/// "1.234,50 €" with a no-break space, as amounts are printed.
pub(crate) fn eur(amount: Decimal) -> String {
    let mut a = amount.round_dp(2);
    a.rescale(2);
    let text = a.abs().to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if a.is_sign_negative() && !a.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{grouped},{cents}\u{a0}€")
}

/// "2027-02-15" as "15.02.2027".
pub(crate) fn german_date(iso: &str) -> String {
    match rathaus_domain::service::form::parse_date(iso) {
        Some(d) => rathaus_domain::service::form::format_date_de(d),
        None => iso.to_owned(),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez",
];

fn month_name(m: u8) -> &'static str {
    MONTHS
        .get(usize::from(m.saturating_sub(1)))
        .copied()
        .unwrap_or("")
}

/// An IBAN shown on a notice: country, check digits and the last four, the rest hidden, because
/// a notice travels by post and lies on kitchen tables.
pub(crate) fn masked_iban(iban: &str) -> String {
    let n = iban.len();
    if n < 8 {
        return "****".into();
    }
    format!(
        "{} **** **** {}",
        iban.get(..4).unwrap_or_default(),
        iban.get(n - 4..).unwrap_or_default()
    )
}

fn letterhead(a: &Authority) -> Letterhead {
    let mut lines: Vec<String> = a.address.iter().skip(1).cloned().collect();
    if let Some(p) = &a.phone {
        lines.push(format!("Telefon {p}"));
    }
    if let Some(e) = &a.email {
        lines.push(e.clone());
    }
    if let Some(w) = &a.website {
        lines.push(w.clone());
    }
    Letterhead {
        authority: a.title.clone(),
        return_address: (!a.address.is_empty()).then(|| a.address.join(" · ")),
        lines,
        logo_png: None,
    }
}

fn footer(a: &Authority) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(iban) = &a.iban {
        let shown = iban
            .parse::<Iban>()
            .map(|i| i.to_string())
            .unwrap_or_else(|_| iban.clone());
        let mut line = format!(
            "Bankverbindung: {} · IBAN {shown}",
            a.bank_name.clone().unwrap_or_default()
        );
        if let Some(bic) = &a.bic {
            line.push_str(&format!(" · BIC {bic}"));
        }
        out.push(line);
    }
    let mut second = Vec::new();
    if !a.office_hours.is_empty() {
        second.push(format!("Sprechzeiten: {}", a.office_hours.join(", ")));
    }
    if let Some(c) = &a.creditor_id {
        second.push(format!("Gläubiger-ID {c}"));
    }
    if !second.is_empty() {
        out.push(second.join(" · "));
    }
    out
}

fn rate_text(d: &NoticeDog) -> String {
    if d.rates.is_empty() {
        return if d.exemption.is_some() {
            "befreit".to_owned()
        } else {
            "–".to_owned()
        };
    }
    d.rates
        .iter()
        .map(|r| {
            if d.rates.len() == 1 {
                eur(r.annual)
            } else if r.first_month == r.last_month {
                format!("{} ({})", eur(r.annual), month_name(r.first_month))
            } else {
                format!(
                    "{} ({}–{})",
                    eur(r.annual),
                    month_name(r.first_month),
                    month_name(r.last_month)
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn period_text(d: &NoticeDog, year: i32) -> String {
    match (d.rates.first(), d.rates.last()) {
        (Some(first), Some(last)) => format!(
            "{} – {} {year}",
            month_name(first.first_month),
            month_name(last.last_month)
        ),
        _ => "–".to_owned(),
    }
}

/// The blocks of one notice (one year, or the fee).
fn blocks(c: &NoticeContent) -> Result<Vec<Block>, AppError> {
    let p = |s: &str| printable(s);
    let authority = p(&c.authority.title);
    let mut out = Vec::new();
    match c.kind {
        NoticeKind::Tax => {
            out.push(Block::Heading(format!(
                "Bescheid über die Festsetzung der Hundesteuer {}",
                c.year
            )));
        }
        NoticeKind::Change => out.push(Block::Heading(format!(
            "Änderungsbescheid über die Hundesteuer {}",
            c.year
        ))),
        NoticeKind::Fee => out.push(Block::Heading(
            "Gebührenbescheid für eine Ersatz-Steuermarke".to_owned(),
        )),
    }
    let mut facts = vec![("Kassenzeichen".to_owned(), c.kassenzeichen.clone())];
    if let Some(r) = &c.case_reference {
        facts.push(("Aktenzeichen".to_owned(), r.clone()));
    }
    facts.push(("Steuerpflichtig".to_owned(), p(&c.holder.name)));
    if c.kind != NoticeKind::Fee {
        facts.push((
            "Zeitraum".to_owned(),
            format!("01.01.{} – 31.12.{}", c.year, c.year),
        ));
    }
    out.push(Block::KeyValues(facts));
    let satzung = match &c.statute_valid_from {
        Some(v) => format!(
            "der Hundesteuersatzung der {authority} in der ab {} geltenden Fassung",
            german_date(v)
        ),
        None => format!("der Hundesteuersatzung der {authority}"),
    };
    match c.kind {
        NoticeKind::Tax => out.push(Block::Paragraph(format!(
            "Guten Tag,\n\nauf Grund des Kommunalabgabengesetzes für das Land Brandenburg (KAG) in Verbindung mit {satzung} wird die Hundesteuer für das Jahr {} wie folgt festgesetzt.",
            c.year
        ))),
        NoticeKind::Change => {
            let mut text = format!(
                "Guten Tag,\n\nauf Grund des Kommunalabgabengesetzes für das Land Brandenburg (KAG) in Verbindung mit {satzung} wird die Hundesteuer für das Jahr {} neu festgesetzt. Dieser Bescheid ersetzt die bisherige Festsetzung für {}.",
                c.year, c.year
            );
            if let Some(e) = &c.ending {
                text.push_str(&format!(
                    "\n\nDer Hund „{}“{} ist zum {} abgemeldet; die Steuerpflicht endet mit Ablauf dieses Monats.",
                    p(&e.dog_name),
                    e.tag
                        .as_ref()
                        .map(|t| format!(" (Steuermarke {t})"))
                        .unwrap_or_default(),
                    german_date(&e.kept_until)
                ));
                if e.tag.is_some() {
                    text.push_str(" Die Steuermarke ist ungültig; bitte geben Sie sie zurück.");
                }
            }
            out.push(Block::Paragraph(text));
        }
        NoticeKind::Fee => {
            if let Some(f) = &c.fee {
                out.push(Block::Paragraph(format!(
                    "Guten Tag,\n\nfür Ihren Hund „{}“ erhalten Sie die Ersatz-Steuermarke Nr. {}. Die bisherige Steuermarke Nr. {} ist ab sofort ungültig. Für die Ersatzmarke wird nach {satzung} eine Gebühr festgesetzt.",
                    p(&f.dog_name),
                    f.new_tag,
                    f.old_tag
                )));
                out.push(Block::KeyValues(vec![
                    ("Gebühr".to_owned(), eur(f.amount)),
                    ("Fällig am".to_owned(), german_date(&f.due)),
                ]));
            }
        }
    }
    if c.authority.example_data {
        out.push(Block::Paragraph(
            "Hinweis: Die Steuersätze und Angaben der Gemeinde in dieser Demo sind Beispielwerte, die gegen die jeweilige Satzung zu prüfen sind, wo ein Wert nicht veröffentlicht ist.".to_owned(),
        ));
    }
    if c.kind != NoticeKind::Fee {
        out.push(Block::Subheading("Ihre Hunde".to_owned()));
        if c.dogs.is_empty() {
            out.push(Block::Paragraph(format!(
                "Für {} ist kein Hund steuerpflichtig gemeldet.",
                c.year
            )));
        } else {
            let rows = c
                .dogs
                .iter()
                .map(|d| {
                    let mut name = p(&d.name);
                    if d.dangerous {
                        name.push_str("\n(gefährlicher Hund)");
                    }
                    if let Some(e) = &d.exemption {
                        name.push_str(&format!("\nBefreiung: {}", p(e)));
                    }
                    if let Some(r) = &d.reduction {
                        name.push_str(&format!("\nErmäßigung: {}", p(r)));
                    }
                    if let Some(u) = &d.kept_until {
                        name.push_str(&format!("\nabgemeldet zum {}", german_date(u)));
                    }
                    vec![
                        d.tag.clone().unwrap_or_else(|| "–".to_owned()),
                        name,
                        period_text(d, c.year),
                        rate_text(d),
                        d.months.to_string(),
                        eur(d.amount),
                    ]
                })
                .collect();
            out.push(Block::Table(Table {
                caption: Some(format!("Steuerpflichtige Hunde {}", c.year)),
                header: vec![
                    "Marke".into(),
                    "Hund".into(),
                    "Zeitraum".into(),
                    "Jahressteuer".into(),
                    "Monate".into(),
                    "Betrag".into(),
                ],
                rows,
                totals: vec![vec![
                    String::new(),
                    "Steuer für das Jahr".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    eur(c.total),
                ]],
                align_right: vec![false, false, false, true, true, true],
            }));
            out.push(Block::Paragraph(
                "Die Steuer je Hund ist zur Information gerundet; maßgeblich sind die Beträge der Fälligkeiten.".to_owned(),
            ));
        }
        if let Some(prev) = c.previous_total {
            let diff = c.total - prev;
            let (label, shown) = if diff < Decimal::ZERO {
                ("Minderung", eur(-diff))
            } else {
                ("Erhöhung", eur(diff))
            };
            out.push(Block::KeyValues(vec![
                ("Bisher festgesetzt".to_owned(), eur(prev)),
                ("Neu festgesetzt".to_owned(), eur(c.total)),
                (label.to_owned(), shown),
            ]));
        }
        out.push(Block::Subheading("Fälligkeiten".to_owned()));
        if c.installments.is_empty() {
            out.push(Block::Paragraph(
                "Aus diesem Bescheid ist nichts mehr zu zahlen.".to_owned(),
            ));
        } else {
            let total: Decimal = c.installments.iter().map(|i| i.amount).sum();
            out.push(Block::Table(Table {
                caption: Some("Zu zahlende Beträge".to_owned()),
                header: vec!["Fällig am".into(), "Betrag".into()],
                rows: c
                    .installments
                    .iter()
                    .map(|i| vec![german_date(&i.due), eur(i.amount)])
                    .collect(),
                totals: vec![vec!["Summe".into(), eur(total)]],
                align_right: vec![false, true],
            }));
        }
        if !c.refund.is_zero() {
            out.push(Block::Paragraph(format!(
                "Zu viel gezahlte {} werden Ihnen erstattet{}.",
                eur(c.refund),
                if c.payment.is_debit() {
                    " (auf das Konto, von dem die Steuer eingezogen wurde)"
                } else {
                    "; bitte teilen Sie uns Ihre Bankverbindung mit, falls wir sie noch nicht kennen"
                }
            )));
        }
    }
    out.extend(payment_blocks(c)?);
    out.push(Block::Subheading("Rechtsbehelfsbelehrung".to_owned()));
    let address = c
        .authority
        .address
        .iter()
        .map(|l| p(l))
        .collect::<Vec<_>>()
        .join(", ");
    out.push(Block::Paragraph(format!(
        "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch erhoben werden. Der Widerspruch ist schriftlich oder zur Niederschrift bei der {authority} ({address}) einzulegen; er kann auch in elektronischer Form nach § 3a Absatz 2 des Verwaltungsverfahrensgesetzes erhoben werden. Der Widerspruch hat keine aufschiebende Wirkung (§ 80 Absatz 2 Satz 1 Nr. 1 der Verwaltungsgerichtsordnung): Die festgesetzten Beträge sind auch dann zu den angegebenen Terminen zu zahlen."
    )));
    out.push(Block::Signature(vec![
        "Mit freundlichen Grüßen".to_owned(),
        "Im Auftrag".to_owned(),
        String::new(),
        authority.clone(),
        "Dieser Bescheid wurde maschinell erstellt und ist ohne Unterschrift gültig.".to_owned(),
    ]));
    Ok(out)
}

fn payment_blocks(c: &NoticeContent) -> Result<Vec<Block>, AppError> {
    let mut out = Vec::new();
    let first = match c.kind {
        NoticeKind::Fee => c.fee.as_ref().map(|f| Due {
            due: f.due.clone(),
            amount: f.amount,
        }),
        _ => c.installments.first().cloned(),
    };
    let Some(first) = first else {
        return Ok(out);
    };
    out.push(Block::Subheading("Zahlung".to_owned()));
    let remittance = match c.kind {
        NoticeKind::Fee => format!("Ersatzmarke Kassenzeichen {}", c.kassenzeichen),
        _ => format!("Hundesteuer {} Kassenzeichen {}", c.year, c.kassenzeichen),
    };
    if c.payment.is_debit() {
        let iban = c.payment.iban.clone().unwrap_or_default();
        out.push(Block::Paragraph(
            "Die Beträge werden zu den Fälligkeitsterminen per SEPA-Lastschrift von Ihrem Konto eingezogen. Bitte sorgen Sie für ausreichende Deckung.".to_owned(),
        ));
        let mut kv = vec![
            ("Konto".to_owned(), masked_iban(&iban)),
            (
                "Mandatsreferenz".to_owned(),
                c.payment.mandate_reference.clone().unwrap_or_default(),
            ),
        ];
        if let Some(id) = &c.authority.creditor_id {
            kv.push(("Gläubiger-ID".to_owned(), id.clone()));
        }
        out.push(Block::KeyValues(kv));
        return Ok(out);
    }
    let Some(iban_text) = &c.authority.iban else {
        out.push(Block::Paragraph(format!(
            "Bitte überweisen Sie die Beträge zu den Fälligkeitsterminen unter Angabe des Kassenzeichens {} an die {}.",
            c.kassenzeichen,
            printable(&c.authority.title)
        )));
        return Ok(out);
    };
    out.push(Block::Paragraph(format!(
        "Bitte überweisen Sie die Beträge zu den Fälligkeitsterminen. Geben Sie als Verwendungszweck an: {remittance}."
    )));
    let holder = c
        .authority
        .bank_holder
        .clone()
        .unwrap_or_else(|| c.authority.title.clone());
    let iban: Option<Iban> = iban_text.parse().ok();
    let mut kv = vec![
        ("Empfänger".to_owned(), printable(&holder)),
        (
            "IBAN".to_owned(),
            iban.as_ref()
                .map(|i| i.to_string())
                .unwrap_or_else(|| iban_text.clone()),
        ),
    ];
    if let Some(bic) = &c.authority.bic {
        kv.push(("BIC".to_owned(), bic.clone()));
    }
    if let Some(bank) = &c.authority.bank_name {
        kv.push(("Bank".to_owned(), printable(bank)));
    }
    kv.push(("Verwendungszweck".to_owned(), remittance.clone()));
    out.push(Block::KeyValues(kv));
    if let Some(iban) = iban {
        let payload = epc_qr_payload(
            c.authority.bic.as_deref(),
            &holder.chars().take(70).collect::<String>(),
            &iban,
            first.amount,
            Some(&Remittance::Text(remittance)),
        )
        .map_err(|e| AppError::Internal(format!("GiroCode: {e}")))?;
        out.push(Block::QrCode {
            payload,
            caption: format!(
                "GiroCode für die Überweisung von {} (fällig am {}): mit der Banking-App scannen.",
                eur(first.amount),
                german_date(&first.due)
            ),
            alt: "QR-Code für die Überweisung".to_owned(),
        });
    }
    Ok(out)
}

/// Renders one or more notices issued together (e.g. the change of two years) as one PDF.
pub fn render(contents: &[NoticeContent]) -> Result<Vec<u8>, AppError> {
    let Some(first) = contents.first() else {
        return Err(AppError::Internal("no notice to render".into()));
    };
    let mut body = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        if i > 0 {
            body.push(Block::Spacer);
        }
        body.extend(blocks(c)?);
    }
    let created = from_unix_ms(first.issued_at_ms);
    let place = first
        .authority
        .address
        .last()
        .and_then(|l| l.split_once(' ').map(|(_, city)| city.to_owned()))
        .unwrap_or_else(|| first.authority.title.clone());
    let title = super::register::document_title(contents);
    let mut reference_lines = vec![("Kassenzeichen".to_owned(), first.kassenzeichen.clone())];
    if let Some(r) = &first.case_reference {
        reference_lines.push(("Aktenzeichen".to_owned(), r.clone()));
    }
    let doc = Document {
        title,
        lang: "de-DE".into(),
        created,
        letterhead: letterhead(&first.authority),
        recipient: first
            .holder
            .address_lines()
            .iter()
            .map(|l| printable(l))
            .collect(),
        date_line: Some(format!(
            "{}, {}",
            printable(&place),
            german_date(&first.issued_on)
        )),
        reference_lines,
        blocks: body,
        footer: footer(&first.authority),
    };
    rathaus_pdf::render(&doc).map_err(|e| AppError::Internal(format!("notice: {e}")))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn amounts_and_accounts_print_the_german_way() {
        let d = |s: &str| Decimal::from_str(s).unwrap_or_default();
        assert_eq!(eur(d("11.5")), "11,50\u{a0}€");
        assert_eq!(eur(d("1234.5")), "1.234,50\u{a0}€");
        assert_eq!(eur(d("409")), "409,00\u{a0}€");
        assert_eq!(eur(d("-8.67")), "-8,67\u{a0}€");
        assert_eq!(masked_iban("DE89370400440532013000"), "DE89 **** **** 3000");
        assert_eq!(german_date("2027-02-15"), "15.02.2027");
    }
}
