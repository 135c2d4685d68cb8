//! SEPA building blocks for paying a Bescheid: IBAN, Gläubiger-Identifikationsnummer, mandate
//! reference, the EPC "GiroCode" QR payload, and the dog's transponder number for the register.
//!
//! Errors never repeat the number they reject: bank details are personal data and error messages end
//! up in logs. Each error has an English `Display` and a German [`message_de`](IbanError::message_de).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// ISO 7064 MOD 97-10 as used by ISO 13616 and the creditor identifier: letters count as 10..=35.
/// `None` for any character that is neither an ASCII digit nor an upper-case letter.
fn mod97(bytes: impl IntoIterator<Item = u8>) -> Option<u32> {
    let mut remainder = 0u32;
    for b in bytes {
        remainder = match b {
            b'0'..=b'9' => (remainder * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (remainder * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return None,
        };
    }
    Some(remainder)
}

/// Spaces are how people write these numbers; case does not matter to any bank.
fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn starts_with_country_and_check_digits(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
}

/// ISO 13616 forbids 00, 01 and 99: MOD 97-10 alone would accept 00 and 01 where 97 and 98 belong.
fn check_digits_in_range(s: &str) -> bool {
    s.get(2..4)
        .and_then(|d| d.parse::<u8>().ok())
        .is_some_and(|d| (2..=98).contains(&d))
}

/// An International Bank Account Number, stored in its electronic form (no spaces, upper case).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("the IBAN is empty")]
    Empty,
    #[error("an IBAN contains only letters and digits (spaces between groups are fine)")]
    InvalidCharacter,
    #[error("an IBAN starts with a two-letter country code and two check digits, e.g. DE89")]
    BadStart,
    #[error("a German IBAN has 22 characters, this one has {0}")]
    GermanLength(usize),
    #[error("an IBAN has 15 to 34 characters, this one has {0}")]
    Length(usize),
    #[error("IBAN check digits are wrong")]
    CheckDigits,
}

impl IbanError {
    pub fn message_de(&self) -> String {
        match self {
            IbanError::Empty => "Bitte eine IBAN angeben.".into(),
            IbanError::InvalidCharacter => {
                "Eine IBAN besteht nur aus Buchstaben und Ziffern (Leerzeichen zwischen den Blöcken sind erlaubt).".into()
            }
            IbanError::BadStart => {
                "Eine IBAN beginnt mit dem Ländercode aus zwei Buchstaben und zwei Prüfziffern, z. B. DE89.".into()
            }
            IbanError::GermanLength(n) => format!("Eine deutsche IBAN hat 22 Zeichen, diese hat {n}."),
            IbanError::Length(n) => format!("Eine IBAN hat 15 bis 34 Zeichen, diese hat {n}."),
            IbanError::CheckDigits => "Die Prüfziffern der IBAN stimmen nicht; bitte die Eingabe prüfen.".into(),
        }
    }
}

impl Iban {
    /// Without spaces, as it goes into a SEPA file or a QR code.
    pub fn electronic(&self) -> &str {
        &self.0
    }
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let iban = normalise(text);
        if iban.is_empty() {
            return Err(IbanError::Empty);
        }
        if !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IbanError::InvalidCharacter);
        }
        if !starts_with_country_and_check_digits(&iban) {
            return Err(IbanError::BadStart);
        }
        let length = iban.len();
        if iban.starts_with("DE") && length != 22 {
            return Err(IbanError::GermanLength(length));
        }
        if !(15..=34).contains(&length) {
            return Err(IbanError::Length(length));
        }
        let rearranged = iban.bytes().skip(4).chain(iban.bytes().take(4));
        if mod97(rearranged) != Some(1) || !check_digits_in_range(&iban) {
            return Err(IbanError::CheckDigits);
        }
        Ok(Iban(iban))
    }
}

/// Printed in groups of four, the form people read and compare.
impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// Debug output lands in logs, so it shows only enough to tell accounts apart.
impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self
            .0
            .get(self.0.len().saturating_sub(4)..)
            .unwrap_or_default();
        write!(f, "Iban({}…{})", self.country(), tail)
    }
}

impl TryFrom<String> for Iban {
    type Error = IbanError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Iban> for String {
    fn from(iban: Iban) -> String {
        iban.0
    }
}

/// Gläubiger-Identifikationsnummer (SEPA creditor identifier): country code, two check digits, a
/// three-character business code the creditor may choose freely (usually ZZZ), and the national
/// identifier — in Germany 11 digits, 18 characters in all.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditorId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreditorIdError {
    #[error("the creditor identifier is empty")]
    Empty,
    #[error("a creditor identifier contains only letters and digits")]
    InvalidCharacter,
    #[error(
        "a creditor identifier starts with a two-letter country code and two check digits, e.g. DE98"
    )]
    BadStart,
    #[error("a German creditor identifier has 18 characters, this one has {0}")]
    GermanLength(usize),
    #[error("a creditor identifier has 8 to 35 characters, this one has {0}")]
    Length(usize),
    #[error("the last 11 characters of a German creditor identifier are digits")]
    GermanNationalId,
    #[error("creditor identifier check digits are wrong")]
    CheckDigits,
}

impl CreditorIdError {
    pub fn message_de(&self) -> String {
        match self {
            CreditorIdError::Empty => "Bitte eine Gläubiger-Identifikationsnummer angeben.".into(),
            CreditorIdError::InvalidCharacter => {
                "Eine Gläubiger-Identifikationsnummer besteht nur aus Buchstaben und Ziffern.".into()
            }
            CreditorIdError::BadStart => {
                "Eine Gläubiger-Identifikationsnummer beginnt mit dem Ländercode und zwei Prüfziffern, z. B. DE98."
                    .into()
            }
            CreditorIdError::GermanLength(n) => {
                format!("Eine deutsche Gläubiger-Identifikationsnummer hat 18 Zeichen, diese hat {n}.")
            }
            CreditorIdError::Length(n) => {
                format!("Eine Gläubiger-Identifikationsnummer hat 8 bis 35 Zeichen, diese hat {n}.")
            }
            CreditorIdError::GermanNationalId => {
                "Die letzten 11 Zeichen einer deutschen Gläubiger-Identifikationsnummer sind Ziffern.".into()
            }
            CreditorIdError::CheckDigits => "Die Prüfziffern der Gläubiger-Identifikationsnummer stimmen nicht.".into(),
        }
    }
}

impl CreditorId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }
    /// Creditor business code (Geschäftsbereichskennung), "ZZZ" unless the creditor uses several.
    pub fn business_code(&self) -> &str {
        self.0.get(4..7).unwrap_or_default()
    }
    pub fn national_id(&self) -> &str {
        self.0.get(7..).unwrap_or_default()
    }
}

impl FromStr for CreditorId {
    type Err = CreditorIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let id = normalise(text);
        if id.is_empty() {
            return Err(CreditorIdError::Empty);
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CreditorIdError::InvalidCharacter);
        }
        if !starts_with_country_and_check_digits(&id) {
            return Err(CreditorIdError::BadStart);
        }
        let length = id.len();
        if id.starts_with("DE") {
            if length != 18 {
                return Err(CreditorIdError::GermanLength(length));
            }
            if !id.bytes().skip(7).all(|b| b.is_ascii_digit()) {
                return Err(CreditorIdError::GermanNationalId);
            }
        } else if !(8..=35).contains(&length) {
            return Err(CreditorIdError::Length(length));
        }
        // The business code is left out of the check so a creditor can change it freely.
        let checked = id.bytes().skip(7).chain(id.bytes().take(4));
        if mod97(checked) != Some(1) || !check_digits_in_range(&id) {
            return Err(CreditorIdError::CheckDigits);
        }
        Ok(CreditorId(id))
    }
}

impl fmt::Display for CreditorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditorId {
    type Error = CreditorIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<CreditorId> for String {
    fn from(id: CreditorId) -> String {
        id.0
    }
}

/// Mandatsreferenz: identifies one SEPA direct-debit mandate of a creditor. Up to 35 characters of
/// `A-Z 0-9 + ? / - : ( ) . , '` and space.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MandateReference(String);

pub const MANDATE_REFERENCE_MAX: usize = 35;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MandateReferenceError {
    #[error("the mandate reference is empty")]
    Empty,
    #[error("a mandate reference has at most 35 characters, this one has {0}")]
    TooLong(usize),
    #[error(
        "a mandate reference may contain only A-Z, 0-9, space and + ? / - : ( ) . , ' but contains {0:?}"
    )]
    InvalidCharacter(char),
    #[error("a mandate reference must not start or end with / nor contain //")]
    Slashes,
}

impl MandateReferenceError {
    pub fn message_de(&self) -> String {
        match self {
            MandateReferenceError::Empty => "Die Mandatsreferenz ist leer.".into(),
            MandateReferenceError::TooLong(n) => {
                format!("Eine Mandatsreferenz hat höchstens 35 Zeichen, diese hat {n}.")
            }
            MandateReferenceError::InvalidCharacter(c) => format!(
                "Eine Mandatsreferenz darf nur A–Z, 0–9, Leerzeichen und + ? / - : ( ) . , ' enthalten, nicht {c:?}."
            ),
            MandateReferenceError::Slashes => {
                "Eine Mandatsreferenz darf nicht mit / beginnen oder enden und kein // enthalten."
                    .into()
            }
        }
    }
}

fn is_mandate_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || " +?/-:().,'".contains(c)
}

impl MandateReference {
    pub fn new(text: &str) -> Result<MandateReference, MandateReferenceError> {
        text.parse()
    }

    /// `prefix` followed by `number` padded to six digits, e.g. ("HST-12060181-", 42) gives
    /// "HST-12060181-000042"; the padding keeps references of one series sorted.
    pub fn numbered(prefix: &str, number: u64) -> Result<MandateReference, MandateReferenceError> {
        format!("{prefix}{number:06}").parse()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MandateReference {
    type Err = MandateReferenceError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Err(MandateReferenceError::Empty);
        }
        if let Some(c) = text.chars().find(|c| !is_mandate_char(*c)) {
            return Err(MandateReferenceError::InvalidCharacter(c));
        }
        if text.len() > MANDATE_REFERENCE_MAX {
            return Err(MandateReferenceError::TooLong(text.len()));
        }
        // EPC rulebook rule for SEPA identifiers; banks reject such references.
        if text.starts_with('/') || text.ends_with('/') || text.contains("//") {
            return Err(MandateReferenceError::Slashes);
        }
        Ok(MandateReference(text.to_owned()))
    }
}

impl fmt::Display for MandateReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MandateReference {
    type Error = MandateReferenceError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<MandateReference> for String {
    fn from(reference: MandateReference) -> String {
        reference.0
    }
}

/// A SEPA direct-debit mandate as a collection needs it: its reference and the day the debtor
/// signed it. pain.008 requires both (`MndtId`, `DtOfSgntr`); a date that was never recorded is
/// never made up, because the bank and the debtor's bank take it as the proof of the mandate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mandate {
    pub reference: MandateReference,
    pub signed_on: time::Date,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MandateError {
    #[error("the mandate reference is unusable: {0}")]
    Reference(MandateReferenceError),
    #[error("no date of signature is recorded for the mandate")]
    NoSignatureDate,
    #[error("the recorded date of signature is not a date")]
    BadSignatureDate,
    #[error("the mandate is dated after the collection date")]
    SignedAfterCollection,
}

impl MandateError {
    pub fn message_de(&self) -> String {
        match self {
            MandateError::Reference(e) => {
                format!("Die Mandatsreferenz ist unbrauchbar: {}", e.message_de())
            }
            MandateError::NoSignatureDate => {
                "Für das Mandat ist kein Datum der Unterschrift erfasst.".into()
            }
            MandateError::BadSignatureDate => {
                "Das erfasste Datum der Unterschrift des Mandats ist kein Datum.".into()
            }
            MandateError::SignedAfterCollection => {
                "Das Mandat ist nach dem Einzugstag unterschrieben.".into()
            }
        }
    }
}

impl Mandate {
    /// The mandate as recorded (reference, date of signature `YYYY-MM-DD`) for a collection on
    /// `collection`: refused when the reference or the date is missing or unusable, or when the
    /// mandate was signed only after the collection date.
    pub fn for_collection(
        reference: Option<&str>,
        signed_on: Option<&str>,
        collection: time::Date,
    ) -> Result<Mandate, MandateError> {
        let reference = MandateReference::new(reference.unwrap_or_default())
            .map_err(MandateError::Reference)?;
        let signed_on = match signed_on.map(str::trim) {
            None | Some("") => return Err(MandateError::NoSignatureDate),
            Some(text) => {
                crate::service::form::parse_date(text).ok_or(MandateError::BadSignatureDate)?
            }
        };
        if signed_on > collection {
            return Err(MandateError::SignedAfterCollection);
        }
        Ok(Mandate {
            reference,
            signed_on,
        })
    }
}

/// What the payer's bank shows as the purpose of a transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remittance {
    /// A structured creditor reference (e.g. an ISO 11649 "RF…" reference), at most 35 characters.
    Reference(String),
    /// Free text such as "Hundesteuer 2026, Kassenzeichen 4711", at most 140 characters.
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpcQrError {
    #[error("a BIC has 8 or 11 characters: 6 letters, then letters or digits")]
    Bic,
    #[error("the beneficiary name is empty")]
    EmptyName,
    #[error("the beneficiary name has at most 70 characters, this one has {0}")]
    NameTooLong(usize),
    #[error("the amount must lie between EUR 0.01 and EUR 999999999.99")]
    AmountRange,
    #[error("the amount has at most two decimals")]
    AmountDecimals,
    #[error("the remittance reference has at most 35 characters, this one has {0}")]
    ReferenceTooLong(usize),
    #[error("the remittance text has at most 140 characters, this one has {0}")]
    TextTooLong(usize),
    #[error("the {0} must not contain line breaks")]
    LineBreak(&'static str),
    #[error("the QR payload would have {0} bytes, more than the 331 a GiroCode allows")]
    TooLong(usize),
}

impl EpcQrError {
    pub fn message_de(&self) -> String {
        match self {
            EpcQrError::Bic => {
                "Eine BIC hat 8 oder 11 Zeichen: 6 Buchstaben, dann Buchstaben oder Ziffern.".into()
            }
            EpcQrError::EmptyName => "Der Name des Zahlungsempfängers fehlt.".into(),
            EpcQrError::NameTooLong(n) => {
                format!("Der Name des Zahlungsempfängers hat höchstens 70 Zeichen, dieser hat {n}.")
            }
            EpcQrError::AmountRange => {
                "Der Betrag muss zwischen 0,01 € und 999.999.999,99 € liegen.".into()
            }
            EpcQrError::AmountDecimals => "Der Betrag hat höchstens zwei Nachkommastellen.".into(),
            EpcQrError::ReferenceTooLong(n) => {
                format!("Die Referenz hat höchstens 35 Zeichen, diese hat {n}.")
            }
            EpcQrError::TextTooLong(n) => {
                format!("Der Verwendungszweck hat höchstens 140 Zeichen, dieser hat {n}.")
            }
            EpcQrError::LineBreak(field) => {
                format!("Das Feld „{field}“ darf keine Zeilenumbrüche enthalten.")
            }
            EpcQrError::TooLong(n) => {
                format!("Der QR-Code-Inhalt hätte {n} Bytes, erlaubt sind 331.")
            }
        }
    }
}

const EPC_MAX_BYTES: usize = 331;

fn single_line(text: &str, field: &'static str) -> Result<(), EpcQrError> {
    if text.contains(['\n', '\r']) {
        Err(EpcQrError::LineBreak(field))
    } else {
        Ok(())
    }
}

/// The EPC069-12 "GiroCode" payload for a SEPA credit transfer: version 002, UTF-8 (character set
/// 1), BIC optional, one element per line separated by "\n", trailing empty elements left out.
pub fn epc_qr_payload(
    bic: Option<&str>,
    beneficiary_name: &str,
    iban: &Iban,
    amount: Decimal,
    remittance: Option<&Remittance>,
) -> Result<String, EpcQrError> {
    let bic = match bic {
        Some(bic) => {
            let bic = normalise(bic);
            let b = bic.as_bytes();
            let well_formed = (b.len() == 8 || b.len() == 11)
                && b[..6].iter().all(u8::is_ascii_uppercase)
                && b[6..].iter().all(u8::is_ascii_alphanumeric);
            if !well_formed {
                return Err(EpcQrError::Bic);
            }
            bic
        }
        None => String::new(),
    };

    let name = beneficiary_name.trim();
    single_line(name, "beneficiary name")?;
    if name.is_empty() {
        return Err(EpcQrError::EmptyName);
    }
    let name_chars = name.chars().count();
    if name_chars > 70 {
        return Err(EpcQrError::NameTooLong(name_chars));
    }

    if amount < Decimal::new(1, 2) || amount > Decimal::new(99_999_999_999, 2) {
        return Err(EpcQrError::AmountRange);
    }
    if amount.normalize().scale() > 2 {
        return Err(EpcQrError::AmountDecimals);
    }
    let mut cents = amount;
    cents.rescale(2);

    let mut lines = vec![
        "BCD".to_owned(),
        "002".to_owned(),
        "1".to_owned(),
        "SCT".to_owned(),
        bic,
        name.to_owned(),
        iban.electronic().to_owned(),
        format!("EUR{cents}"),
    ];
    match remittance {
        Some(Remittance::Reference(reference)) => {
            single_line(reference, "remittance reference")?;
            let n = reference.chars().count();
            if n > 35 {
                return Err(EpcQrError::ReferenceTooLong(n));
            }
            lines.extend([String::new(), reference.clone()]);
        }
        Some(Remittance::Text(text)) => {
            single_line(text, "remittance text")?;
            let n = text.chars().count();
            if n > 140 {
                return Err(EpcQrError::TextTooLong(n));
            }
            lines.extend([String::new(), String::new(), text.clone()]);
        }
        None => {}
    }
    let payload = lines.join("\n");
    if payload.len() > EPC_MAX_BYTES {
        return Err(EpcQrError::TooLong(payload.len()));
    }
    Ok(payload)
}

/// ISO 11784/11785 transponder number as printed on the chip's label: 15 digits, the first three a
/// country or manufacturer code. All zeros is a placeholder, never a real chip.
pub fn is_valid_microchip(text: &str) -> bool {
    text.len() == 15 && text.bytes().all(|b| b.is_ascii_digit()) && text.bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mandate_needs_its_reference_and_its_date_of_signature() {
        use time::macros::date;
        let due = date!(2027 - 02 - 15);
        let m = Mandate::for_collection(Some("HU-LEGACY-1"), Some("2019-03-01"), due).unwrap();
        assert_eq!(
            (m.reference.as_str(), m.signed_on),
            ("HU-LEGACY-1", date!(2019 - 03 - 01))
        );
        assert_eq!(
            Mandate::for_collection(Some("HU-1"), None, due),
            Err(MandateError::NoSignatureDate)
        );
        assert_eq!(
            Mandate::for_collection(Some("HU-1"), Some(" "), due),
            Err(MandateError::NoSignatureDate)
        );
        assert_eq!(
            Mandate::for_collection(Some("HU-1"), Some("2019-02-30"), due),
            Err(MandateError::BadSignatureDate)
        );
        assert_eq!(
            Mandate::for_collection(Some("HU-1"), Some("2027-02-16"), due),
            Err(MandateError::SignedAfterCollection)
        );
        assert_eq!(
            Mandate::for_collection(None, Some("2019-03-01"), due),
            Err(MandateError::Reference(MandateReferenceError::Empty))
        );
        assert!(Mandate::for_collection(Some("HU-1"), Some("2027-02-15"), due).is_ok());
    }

    const PANKETAL_IBAN: &str = "DE89 3704 0044 0532 0130 00";

    #[test]
    fn iban_parses_with_spaces_and_any_case_and_prints_in_groups() {
        let iban: Iban = "de89370400440532013000".parse().unwrap();
        assert_eq!(iban.electronic(), "DE89370400440532013000");
        assert_eq!(iban.to_string(), PANKETAL_IBAN);
        assert_eq!(iban.country(), "DE");
        assert_eq!(PANKETAL_IBAN.parse::<Iban>().unwrap(), iban);
        assert_eq!(format!("{iban:?}"), "Iban(DE…3000)");
        for other in [
            "GB82 WEST 1234 5698 7654 32",
            "AT61 1904 3002 3457 3201",
            "NO93 8601 1117 947",
            "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
        ] {
            let parsed: Iban = other.parse().unwrap();
            assert_eq!(parsed.to_string(), other);
        }
    }

    #[test]
    fn iban_errors_are_specific() {
        assert_eq!(
            "DE89 3704 0044 0532 0130 01".parse::<Iban>(),
            Err(IbanError::CheckDigits)
        );
        assert_eq!(
            "DE88 3704 0044 0532 0130 00".parse::<Iban>(),
            Err(IbanError::CheckDigits)
        );
        let short = "DE89 3704 0044 0532 0130 0".parse::<Iban>().unwrap_err();
        assert_eq!(
            short.to_string(),
            "a German IBAN has 22 characters, this one has 21"
        );
        assert_eq!(
            short.message_de(),
            "Eine deutsche IBAN hat 22 Zeichen, diese hat 21."
        );
        assert_eq!(
            "IBAN check digits are wrong",
            IbanError::CheckDigits.to_string()
        );
        assert_eq!(
            "NO93 8601 1117 94".parse::<Iban>(),
            Err(IbanError::Length(14))
        );
        assert_eq!("XX00".repeat(9).parse::<Iban>(), Err(IbanError::Length(36)));
        assert_eq!(
            "DE89-3704".parse::<Iban>(),
            Err(IbanError::InvalidCharacter)
        );
        assert_eq!(
            "8937 0400 4405 3201 3000 DE".parse::<Iban>(),
            Err(IbanError::BadStart)
        );
        assert_eq!("   ".parse::<Iban>(), Err(IbanError::Empty));
    }

    #[test]
    fn iban_check_digits_00_01_and_99_are_never_valid() {
        // DE + 97 and DE + 98 variants: MOD 97 would also accept 00 and 01 in their place.
        let valid: Vec<Iban> = (2..=98)
            .filter_map(|cd| format!("DE{cd:02}370400440532013000").parse::<Iban>().ok())
            .collect();
        assert_eq!(valid.len(), 1);
        for cd in ["00", "01", "99"] {
            assert!(format!("DE{cd}370400440532013000").parse::<Iban>().is_err());
        }
    }

    #[test]
    fn iban_serde_uses_the_electronic_form() {
        let iban: Iban = PANKETAL_IBAN.parse().unwrap();
        let json = serde_json::to_string(&iban).unwrap();
        assert_eq!(json, "\"DE89370400440532013000\"");
        assert_eq!(serde_json::from_str::<Iban>(&json).unwrap(), iban);
        assert!(serde_json::from_str::<Iban>("\"DE00370400440532013000\"").is_err());
    }

    #[test]
    fn creditor_id_known_test_id_validates() {
        let id: CreditorId = "DE98ZZZ09999999999".parse().unwrap();
        assert_eq!(id.country(), "DE");
        assert_eq!(id.business_code(), "ZZZ");
        assert_eq!(id.national_id(), "09999999999");
        assert_eq!("de98 zzz0 9999 9999 99".parse::<CreditorId>().unwrap(), id);
    }

    #[test]
    fn creditor_id_business_code_is_not_checked() {
        // Any business code gives the same check digits.
        assert!("DE98ABC09999999999".parse::<CreditorId>().is_ok());
        assert!("DE9800109999999999".parse::<CreditorId>().is_ok());
    }

    #[test]
    fn creditor_id_errors_are_specific() {
        assert_eq!(
            "DE97ZZZ09999999999".parse::<CreditorId>(),
            Err(CreditorIdError::CheckDigits)
        );
        assert_eq!(
            "DE98ZZZ09999999998".parse::<CreditorId>(),
            Err(CreditorIdError::CheckDigits)
        );
        assert_eq!(
            "DE98ZZZ0999999999".parse::<CreditorId>(),
            Err(CreditorIdError::GermanLength(17))
        );
        assert_eq!(
            "DE98ZZZ0999999999X".parse::<CreditorId>(),
            Err(CreditorIdError::GermanNationalId)
        );
        assert_eq!(
            "ZZZ09999999999".parse::<CreditorId>(),
            Err(CreditorIdError::BadStart)
        );
        assert_eq!(
            "DE98_ZZZ".parse::<CreditorId>(),
            Err(CreditorIdError::InvalidCharacter)
        );
        assert!(!CreditorIdError::CheckDigits.message_de().is_empty());
    }

    #[test]
    fn mandate_reference_accepts_the_sepa_characters_only() {
        let reference = MandateReference::new("HST-12060181/2026 (A),B.C:D?E+F'G").unwrap();
        assert_eq!(reference.as_str(), "HST-12060181/2026 (A),B.C:D?E+F'G");
        assert_eq!(
            MandateReference::new("hst-1"),
            Err(MandateReferenceError::InvalidCharacter('h'))
        );
        assert_eq!(
            MandateReference::new("HST_1"),
            Err(MandateReferenceError::InvalidCharacter('_'))
        );
        assert_eq!(
            MandateReference::new("Ä"),
            Err(MandateReferenceError::InvalidCharacter('Ä'))
        );
        assert_eq!(
            MandateReference::new(&"A".repeat(36)),
            Err(MandateReferenceError::TooLong(36))
        );
        assert!(MandateReference::new(&"A".repeat(35)).is_ok());
        assert_eq!(MandateReference::new(""), Err(MandateReferenceError::Empty));
        assert_eq!(
            MandateReference::new("/A"),
            Err(MandateReferenceError::Slashes)
        );
        assert_eq!(
            MandateReference::new("A//B"),
            Err(MandateReferenceError::Slashes)
        );
    }

    #[test]
    fn mandate_reference_from_prefix_and_number() {
        assert_eq!(
            MandateReference::numbered("HST-12060181-", 42)
                .unwrap()
                .as_str(),
            "HST-12060181-000042"
        );
        assert_eq!(
            MandateReference::numbered("M", 1_234_567).unwrap().as_str(),
            "M1234567"
        );
        assert!(MandateReference::numbered(&"X".repeat(30), 1).is_err());
    }

    fn iban() -> Iban {
        PANKETAL_IBAN.parse().unwrap()
    }

    #[test]
    fn girocode_with_text_and_bic() {
        let payload = epc_qr_payload(
            Some("COBADEFFXXX"),
            "Gemeinde Panketal",
            &iban(),
            Decimal::new(1150, 2),
            Some(&Remittance::Text(
                "Hundesteuer 2026 Kassenzeichen 4711".into(),
            )),
        )
        .unwrap();
        assert_eq!(
            payload,
            "BCD\n002\n1\nSCT\nCOBADEFFXXX\nGemeinde Panketal\nDE89370400440532013000\nEUR11.50\n\n\nHundesteuer 2026 Kassenzeichen 4711"
        );
    }

    #[test]
    fn girocode_without_bic_with_reference() {
        let payload = epc_qr_payload(
            None,
            "Stadt Bad Belzig",
            &iban(),
            Decimal::new(46, 0),
            Some(&Remittance::Reference("RF18539007547034".into())),
        )
        .unwrap();
        assert_eq!(
            payload,
            "BCD\n002\n1\nSCT\n\nStadt Bad Belzig\nDE89370400440532013000\nEUR46.00\n\nRF18539007547034"
        );
    }

    #[test]
    fn girocode_without_remittance_ends_after_the_amount() {
        let payload =
            epc_qr_payload(None, "Amt Niemegk", &iban(), Decimal::new(1234, 2), None).unwrap();
        assert_eq!(
            payload,
            "BCD\n002\n1\nSCT\n\nAmt Niemegk\nDE89370400440532013000\nEUR12.34"
        );
    }

    #[test]
    fn girocode_rejects_what_banking_apps_would_reject() {
        let pay =
            |bic: Option<&str>, name: &str, amount: Decimal, remittance: Option<Remittance>| {
                epc_qr_payload(bic, name, &iban(), amount, remittance.as_ref())
            };
        let one = Decimal::ONE;
        assert_eq!(pay(Some("COBADE"), "X", one, None), Err(EpcQrError::Bic));
        assert_eq!(pay(Some("COBADEFF1"), "X", one, None), Err(EpcQrError::Bic));
        assert!(pay(Some("cobadeff"), "X", one, None).is_ok());
        assert_eq!(pay(None, " ", one, None), Err(EpcQrError::EmptyName));
        assert_eq!(
            pay(None, &"ä".repeat(71), one, None),
            Err(EpcQrError::NameTooLong(71))
        );
        assert!(pay(None, &"ä".repeat(70), one, None).is_ok());
        assert_eq!(
            pay(None, "A\nB", one, None),
            Err(EpcQrError::LineBreak("beneficiary name"))
        );
        assert_eq!(
            pay(None, "X", Decimal::ZERO, None),
            Err(EpcQrError::AmountRange)
        );
        assert_eq!(
            pay(None, "X", Decimal::new(-5, 0), None),
            Err(EpcQrError::AmountRange)
        );
        assert_eq!(
            pay(None, "X", Decimal::new(1_000_000_000, 0), None),
            Err(EpcQrError::AmountRange)
        );
        assert!(
            pay(None, "X", Decimal::new(99_999_999_999, 2), None)
                .unwrap()
                .ends_with("EUR999999999.99")
        );
        assert!(
            pay(None, "X", Decimal::new(1, 2), None)
                .unwrap()
                .ends_with("EUR0.01")
        );
        assert_eq!(
            pay(None, "X", Decimal::new(12_345, 3), None),
            Err(EpcQrError::AmountDecimals)
        );
        assert!(
            pay(None, "X", Decimal::new(12_340, 3), None)
                .unwrap()
                .ends_with("EUR12.34")
        );
        assert_eq!(
            pay(None, "X", one, Some(Remittance::Text("x".repeat(141)))),
            Err(EpcQrError::TextTooLong(141))
        );
        assert_eq!(
            pay(None, "X", one, Some(Remittance::Reference("R".repeat(36)))),
            Err(EpcQrError::ReferenceTooLong(36))
        );
        // Within the character limits but not the byte limit: "€" takes 3 bytes in UTF-8.
        // 15 (header lines) + 211 (name) + 23 (IBAN) + 8 (amount) + 2 (empty purpose and reference) + 420.
        assert_eq!(
            pay(
                None,
                &"€".repeat(70),
                one,
                Some(Remittance::Text("€".repeat(140)))
            ),
            Err(EpcQrError::TooLong(679))
        );
    }

    #[test]
    fn microchip_numbers_have_fifteen_digits() {
        assert!(is_valid_microchip("276098100012345"));
        assert!(is_valid_microchip("900123000000001"));
        assert!(!is_valid_microchip("27609810001234"));
        assert!(!is_valid_microchip("2760981000123456"));
        assert!(!is_valid_microchip("276 098100012345"));
        assert!(!is_valid_microchip("27609810001234A"));
        assert!(!is_valid_microchip("000000000000000"));
        assert!(!is_valid_microchip(""));
    }
}
