//! The treasury's export for a due date: the direct debits as a SEPA pain.008.001.02 file (the
//! format German banks accept for SEPA core direct debits) and the expected transfers as CSV.
//!
//! For each household the notice in force on the due date counts: the latest tax or change notice
//! of that year issued on or before it. Fee notices count with their own due date. Every
//! collection uses sequence type RCUR: since November 2016 the SEPA rulebook lets a first
//! collection go as RCUR, which spares the treasury tracking first collections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rathaus_domain::localtime::to_berlin;
use rathaus_domain::sepa::{CreditorId, Iban};
use rathaus_store::audit::{NewAuditEntry, append};
use rust_decimal::Decimal;
use time::Date;

use super::assess::write_private;
use super::facts::{HolderFacts, PaymentFacts};
use super::notice::NoticeContent;
use crate::{Actor, App, AppError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub due: Date,
    pub debits: usize,
    pub debit_sum: Decimal,
    pub transfers: usize,
    pub transfer_sum: Decimal,
    /// The pain.008 file; none when there is nothing to collect by direct debit.
    pub xml: Option<PathBuf>,
    pub csv: PathBuf,
}

/// One amount expected from a household on the due date.
struct Claim {
    kassenzeichen: String,
    holder: HolderFacts,
    payment: PaymentFacts,
    amount: Decimal,
    purpose: String,
    /// Tells the claims of one household on one day apart: the tax year, or G for a fee.
    tag: String,
}

/// Text as the SEPA character set allows it (EPC Latin set plus the German umlauts and ß that the
/// Deutsche Kreditwirtschaft accepts); anything else is transliterated or replaced.
pub(crate) fn sepa_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let mapped: &str = match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | ' '
            | '/'
            | '-'
            | '?'
            | ':'
            | '('
            | ')'
            | '.'
            | ','
            | '\''
            | '+'
            | 'Ä'
            | 'Ö'
            | 'Ü'
            | 'ä'
            | 'ö'
            | 'ü'
            | 'ß'
            | '&' => {
                out.push(c);
                continue;
            }
            'á' | 'à' | 'â' | 'ã' | 'å' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ó' | 'ò' | 'ô' | 'õ' | 'ø' => "o",
            'ú' | 'ù' | 'û' => "u",
            'ç' | 'ć' | 'č' => "c",
            'ñ' | 'ń' => "n",
            'š' | 'ś' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ł' => "l",
            'Á' | 'À' | 'Â' | 'Å' => "A",
            'É' | 'È' | 'Ê' => "E",
            'Ó' | 'Ø' => "O",
            'Č' | 'Ć' | 'Ç' => "C",
            'Š' | 'Ś' => "S",
            'Ž' => "Z",
            'Ł' => "L",
            '\n' | '\t' | '\r' => " ",
            _ => ".",
        };
        out.push_str(mapped);
    }
    let trimmed: String = out.trim().chars().take(max).collect();
    if trimmed.is_empty() {
        "NOTPROVIDED".into()
    } else {
        trimmed
    }
}

/// Escapes the five XML special characters.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn cents(amount: Decimal) -> String {
    let mut a = amount.round_dp(2);
    a.rescale(2);
    a.to_string()
}

/// A CSV field, quoted when needed; `;` separates fields as spreadsheet programs expect in Germany.
fn csv_field(text: &str) -> String {
    // A leading = + - @ would start a formula in a spreadsheet.
    let safe = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if safe.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

fn german_amount(amount: Decimal) -> String {
    cents(amount).replace('.', ",")
}

/// The structural rules of the pain.008 files this module writes, checked without the XSD (the
/// tests check against the official schema as well).
pub fn validate_pain008_shape(xml_text: &str) -> Result<(), String> {
    for needle in [
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.008.001.02\"",
        "<CstmrDrctDbtInitn>",
        "<GrpHdr>",
        "<PmtInf>",
        "<DrctDbtTxInf>",
    ] {
        if !xml_text.contains(needle) {
            return Err(format!("missing {needle}"));
        }
    }
    Ok(())
}

impl App {
    /// Writes the export for `due` into `out`: `hundesteuer-<AGS>-<due>-lastschriften.xml` (when
    /// there are direct debits) and `hundesteuer-<AGS>-<due>-ueberweisungen.csv`.
    pub async fn dogtax_export(
        &self,
        actor: &Actor,
        reference: &str,
        due: Date,
        out: &Path,
    ) -> Result<ExportReport, AppError> {
        let tenant = self.dogtax_municipality(reference).await?;
        let s = self.dogtax_setting(tenant.key.as_str()).await?;
        let key = tenant.key.as_str();
        let due_text = due.to_string();
        let households = self.store.dogtax_households(None, key).await?;
        let notices = self.store.dogtax_notices(None, key, None, None).await?;
        let mut by_household: HashMap<&str, Vec<&rathaus_store::dogtax::Notice>> = HashMap::new();
        for n in &notices {
            by_household
                .entry(n.household_id.as_str())
                .or_default()
                .push(n);
        }
        let mut claims = Vec::new();
        for h in &households {
            let mine: Vec<NoticeContent> = by_household
                .get(h.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter(|n| n.issued_on <= due_text)
                .map(|n| {
                    serde_json::from_value(n.content.clone())
                        .map_err(|e| AppError::Internal(format!("notice {}: {e}", n.id)))
                })
                .collect::<Result<_, _>>()?;
            let holder: HolderFacts = serde_json::from_value(h.holder.clone())
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let payment: PaymentFacts = serde_json::from_value(h.payment.clone())
                .map_err(|e| AppError::Internal(e.to_string()))?;
            // The notices come in the order of issue; the last one of each year is in force. A
            // year's last installment may fall due early the next year, so every year counts.
            let mut years: Vec<i32> = mine
                .iter()
                .filter(|c| c.kind != super::NoticeKind::Fee)
                .map(|c| c.year)
                .collect();
            years.sort_unstable();
            years.dedup();
            for year in years {
                let Some(tax) = mine
                    .iter()
                    .rfind(|c| c.year == year && c.kind != super::NoticeKind::Fee)
                else {
                    continue;
                };
                let amount = tax.due_on(&due_text);
                if amount > Decimal::ZERO {
                    claims.push(Claim {
                        kassenzeichen: h.kassenzeichen.clone(),
                        holder: holder.clone(),
                        payment: payment.clone(),
                        amount,
                        purpose: format!(
                            "Hundesteuer {year} Kassenzeichen {} faellig {}",
                            h.kassenzeichen,
                            super::notice::german_date(&due_text)
                        ),
                        tag: year.to_string(),
                    });
                }
            }
            let fees: Decimal = mine
                .iter()
                .filter(|c| c.kind == super::NoticeKind::Fee)
                .map(|c| c.due_on(&due_text))
                .sum();
            if fees > Decimal::ZERO {
                claims.push(Claim {
                    kassenzeichen: h.kassenzeichen.clone(),
                    holder,
                    payment,
                    amount: fees,
                    purpose: format!("Gebuehr Ersatzmarke Kassenzeichen {}", h.kassenzeichen),
                    tag: "G".to_owned(),
                });
            }
        }
        let (debits, transfers): (Vec<Claim>, Vec<Claim>) =
            claims.into_iter().partition(|c| c.payment.is_debit());

        std::fs::create_dir_all(out)
            .map_err(|e| AppError::BadInput(format!("cannot create {}: {e}", out.display())))?;
        let base = format!("hundesteuer-{key}-{due_text}");
        let xml_path = if debits.is_empty() {
            None
        } else {
            let text = self.pain008(&s, &debits, due)?;
            let path = out.join(format!("{base}-lastschriften.xml"));
            write_private(&path, text.as_bytes())?;
            Some(path)
        };
        let mut csv =
            String::from("Kassenzeichen;Name;Strasse;PLZ;Ort;Faellig;Betrag;Verwendungszweck\r\n");
        for c in &transfers {
            let fields = [
                c.kassenzeichen.clone(),
                c.holder.name.clone(),
                c.holder.street.clone(),
                c.holder.postcode.clone(),
                c.holder.city.clone(),
                due_text.clone(),
                german_amount(c.amount),
                c.purpose.clone(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            csv.push_str(&line.join(";"));
            csv.push_str("\r\n");
        }
        let csv_path = out.join(format!("{base}-ueberweisungen.csv"));
        write_private(&csv_path, csv.as_bytes())?;

        let report = ExportReport {
            due,
            debits: debits.len(),
            debit_sum: debits.iter().map(|c| c.amount).sum(),
            transfers: transfers.len(),
            transfer_sum: transfers.iter().map(|c| c.amount).sum(),
            xml: xml_path,
            csv: csv_path,
        };
        let mut tx = self.store.begin().await?;
        let actor_name = actor.audit_name();
        let object = format!("dogtax-export:{key}:{due_text}");
        let outcome = format!(
            "ok: {} direct debits ({}), {} transfers ({})",
            report.debits,
            cents(report.debit_sum),
            report.transfers,
            cents(report.transfer_sum)
        );
        append(
            &mut tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor_name,
                tenant: Some(key),
                action: "dogtax.export",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    fn pain008(
        &self,
        s: &super::register::Setting,
        debits: &[Claim],
        due: Date,
    ) -> Result<String, AppError> {
        let a = &s.authority;
        let creditor_id: CreditorId = a
            .creditor_id
            .as_deref()
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "{} has no SEPA creditor identifier in its profile; direct debits cannot be exported",
                    a.title
                ))
            })?
            .parse()
            .map_err(|e: rathaus_domain::sepa::CreditorIdError| {
                AppError::BadInput(format!("the creditor identifier in the profile: {e}"))
            })?;
        let creditor_iban: Iban = a
            .iban
            .as_deref()
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "{} has no bank account in its profile; direct debits cannot be exported",
                    a.title
                ))
            })?
            .parse()
            .map_err(|e: rathaus_domain::sepa::IbanError| {
                AppError::BadInput(format!("the bank account in the profile: {e}"))
            })?;
        let now = to_berlin(s.now);
        let stamp = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let created = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let key = s.tenant.key.as_str();
        let msg_id = format!("HST-{key}-{stamp}");
        let sum: Decimal = debits.iter().map(|c| c.amount).sum();
        let creditor_name = xml(&sepa_text(a.bank_holder.as_deref().unwrap_or(&a.title), 70));
        let agent = |bic: Option<&str>| match bic {
            Some(b) => format!("<FinInstnId><BIC>{}</BIC></FinInstnId>", xml(b)),
            None => "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>".to_owned(),
        };
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.008.001.02\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
        x.push_str("<CstmrDrctDbtInitn>\n<GrpHdr>\n");
        x.push_str(&format!("<MsgId>{}</MsgId>\n", xml(&msg_id)));
        x.push_str(&format!("<CreDtTm>{created}</CreDtTm>\n"));
        x.push_str(&format!("<NbOfTxs>{}</NbOfTxs>\n", debits.len()));
        x.push_str(&format!("<CtrlSum>{}</CtrlSum>\n", cents(sum)));
        x.push_str(&format!("<InitgPty><Nm>{creditor_name}</Nm></InitgPty>\n"));
        x.push_str("</GrpHdr>\n<PmtInf>\n");
        x.push_str(&format!("<PmtInfId>{}-1</PmtInfId>\n", xml(&msg_id)));
        x.push_str("<PmtMtd>DD</PmtMtd>\n<BtchBookg>true</BtchBookg>\n");
        x.push_str(&format!("<NbOfTxs>{}</NbOfTxs>\n", debits.len()));
        x.push_str(&format!("<CtrlSum>{}</CtrlSum>\n", cents(sum)));
        x.push_str("<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl><LclInstrm><Cd>CORE</Cd></LclInstrm><SeqTp>RCUR</SeqTp></PmtTpInf>\n");
        x.push_str(&format!("<ReqdColltnDt>{due}</ReqdColltnDt>\n"));
        x.push_str(&format!("<Cdtr><Nm>{creditor_name}</Nm></Cdtr>\n"));
        x.push_str(&format!(
            "<CdtrAcct><Id><IBAN>{}</IBAN></Id></CdtrAcct>\n",
            creditor_iban.electronic()
        ));
        x.push_str(&format!("<CdtrAgt>{}</CdtrAgt>\n", agent(a.bic.as_deref())));
        x.push_str("<ChrgBr>SLEV</ChrgBr>\n");
        x.push_str(&format!(
            "<CdtrSchmeId><Id><PrvtId><Othr><Id>{}</Id><SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id></CdtrSchmeId>\n",
            creditor_id.as_str()
        ));
        for c in debits {
            let iban: Iban = c
                .payment
                .iban
                .as_deref()
                .unwrap_or_default()
                .parse()
                .map_err(|e: rathaus_domain::sepa::IbanError| {
                    AppError::Internal(format!(
                        "household {}: stored IBAN unusable: {e}",
                        c.kassenzeichen
                    ))
                })?;
            let end_to_end = sepa_text(&format!("{}-{}-{}", c.kassenzeichen, c.tag, due), 35);
            let debtor = c
                .payment
                .account_holder
                .clone()
                .unwrap_or_else(|| c.holder.name.clone());
            x.push_str("<DrctDbtTxInf>\n");
            x.push_str(&format!(
                "<PmtId><EndToEndId>{}</EndToEndId></PmtId>\n",
                xml(&end_to_end)
            ));
            x.push_str(&format!(
                "<InstdAmt Ccy=\"EUR\">{}</InstdAmt>\n",
                cents(c.amount)
            ));
            x.push_str(&format!(
                "<DrctDbtTx><MndtRltdInf><MndtId>{}</MndtId><DtOfSgntr>{}</DtOfSgntr></MndtRltdInf></DrctDbtTx>\n",
                xml(&sepa_text(
                    c.payment.mandate_reference.as_deref().unwrap_or_default(),
                    35
                )),
                xml(c.payment.mandate_date.as_deref().unwrap_or("2000-01-01"))
            ));
            x.push_str(&format!("<DbtrAgt>{}</DbtrAgt>\n", agent(None)));
            x.push_str(&format!(
                "<Dbtr><Nm>{}</Nm></Dbtr>\n",
                xml(&sepa_text(&debtor, 70))
            ));
            x.push_str(&format!(
                "<DbtrAcct><Id><IBAN>{}</IBAN></Id></DbtrAcct>\n",
                iban.electronic()
            ));
            x.push_str(&format!(
                "<RmtInf><Ustrd>{}</Ustrd></RmtInf>\n",
                xml(&sepa_text(&c.purpose, 140))
            ));
            x.push_str("</DrctDbtTxInf>\n");
        }
        x.push_str("</PmtInf>\n</CstmrDrctDbtInitn>\n</Document>\n");
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_fitted_to_the_sepa_character_set() {
        assert_eq!(sepa_text("Jürgen Weiß-Öztürk", 70), "Jürgen Weiß-Öztürk");
        assert_eq!(sepa_text("Zoë Čapek & Søn", 70), "Zoe Capek & Son");
        assert_eq!(sepa_text("a\u{1F415}b", 70), "a.b");
        assert_eq!(sepa_text("   ", 70), "NOTPROVIDED");
        assert_eq!(sepa_text(&"x".repeat(80), 70).len(), 70);
        assert_eq!(xml("A & B <c>"), "A &amp; B &lt;c&gt;");
        assert_eq!(csv_field("Müller; Lena"), "\"Müller; Lena\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(german_amount(Decimal::new(1150, 2)), "11,50");
    }
}
