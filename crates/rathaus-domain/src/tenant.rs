//! Municipalities and the administrations (Ämter, Verbandsgemeinden, …) that serve several of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Amtlicher Gemeindeschlüssel: 8 digits, land (2) + Regierungsbezirk (1) + Kreis (2) + Gemeinde (3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ags(String);

/// Schlüssel of a Gemeindeverband: 9 digits, land (2) + Regierungsbezirk (1) + Kreis (2) + Verband (4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VerbandKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("an AGS has exactly 8 digits (e.g. 12060181); got {0:?}")]
    Ags(String),
    #[error(
        "the key of an administration (Amt, Verbandsgemeinde) has exactly 9 digits (e.g. 120695910); got {0:?}"
    )]
    Verband(String),
    #[error("{0:?} is neither an 8-digit AGS nor a 9-digit key of an administration")]
    Tenant(String),
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

impl Ags {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The two-digit key of the federal state (Land), e.g. "12" for Brandenburg.
    pub fn land(&self) -> &str {
        &self.0[..2]
    }
}

impl FromStr for Ags {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if all_digits(s, 8) {
            Ok(Ags(s.to_owned()))
        } else {
            Err(KeyError::Ags(shorten(s)))
        }
    }
}

impl VerbandKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VerbandKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if all_digits(s, 9) {
            Ok(VerbandKey(s.to_owned()))
        } else {
            Err(KeyError::Verband(shorten(s)))
        }
    }
}

macro_rules! string_newtype_conversions {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = KeyError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_newtype_conversions!(Ags);
string_newtype_conversions!(VerbandKey);
string_newtype_conversions!(TenantKey);

/// The identity of a tenant: an AGS for a municipality, a 9-digit key for an administration.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantKey(String);

impl TenantKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_administration(&self) -> bool {
        self.0.len() == 9
    }
}

impl FromStr for TenantKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if all_digits(s, 8) || all_digits(s, 9) {
            Ok(TenantKey(s.to_owned()))
        } else {
            Err(KeyError::Tenant(shorten(s)))
        }
    }
}

impl From<Ags> for TenantKey {
    fn from(a: Ags) -> Self {
        TenantKey(a.0)
    }
}
impl From<VerbandKey> for TenantKey {
    fn from(v: VerbandKey) -> Self {
        TenantKey(v.0)
    }
}

/// Keeps error messages short when someone pastes a whole line where a key belongs.
fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// What kind of body a tenant is, following the Destatis GV-ISys Textkennzeichen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    KreisfreieStadt,
    Stadtkreis,
    GrosseKreisstadt,
    Stadt,
    Markt,
    Gemeinde,
    Amt,
    Samtgemeinde,
    Verbandsgemeinde,
    Verwaltungsgemeinschaft,
    Kirchspielslandschaft,
    Gemeindeverwaltungsverband,
    ErfuellendeGemeinde,
}

impl TenantKind {
    pub const ALL: [TenantKind; 13] = [
        TenantKind::KreisfreieStadt,
        TenantKind::Stadtkreis,
        TenantKind::GrosseKreisstadt,
        TenantKind::Stadt,
        TenantKind::Markt,
        TenantKind::Gemeinde,
        TenantKind::Amt,
        TenantKind::Samtgemeinde,
        TenantKind::Verbandsgemeinde,
        TenantKind::Verwaltungsgemeinschaft,
        TenantKind::Kirchspielslandschaft,
        TenantKind::Gemeindeverwaltungsverband,
        TenantKind::ErfuellendeGemeinde,
    ];

    /// Stable code used in storage and the API.
    pub fn code(self) -> &'static str {
        match self {
            TenantKind::KreisfreieStadt => "kreisfreie_stadt",
            TenantKind::Stadtkreis => "stadtkreis",
            TenantKind::GrosseKreisstadt => "grosse_kreisstadt",
            TenantKind::Stadt => "stadt",
            TenantKind::Markt => "markt",
            TenantKind::Gemeinde => "gemeinde",
            TenantKind::Amt => "amt",
            TenantKind::Samtgemeinde => "samtgemeinde",
            TenantKind::Verbandsgemeinde => "verbandsgemeinde",
            TenantKind::Verwaltungsgemeinschaft => "verwaltungsgemeinschaft",
            TenantKind::Kirchspielslandschaft => "kirchspielslandschaft",
            TenantKind::Gemeindeverwaltungsverband => "gemeindeverwaltungsverband",
            TenantKind::ErfuellendeGemeinde => "erfuellende_gemeinde",
        }
    }

    pub fn from_code(code: &str) -> Option<TenantKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// An administration runs the business of several member municipalities; its staff work for
    /// all of them while each member keeps its own statutes.
    pub fn is_administration(self) -> bool {
        matches!(
            self,
            TenantKind::Amt
                | TenantKind::Samtgemeinde
                | TenantKind::Verbandsgemeinde
                | TenantKind::Verwaltungsgemeinschaft
                | TenantKind::Kirchspielslandschaft
                | TenantKind::Gemeindeverwaltungsverband
                | TenantKind::ErfuellendeGemeinde
        )
    }

    /// The German word placed before the name in titles: "Stadt Bad Belzig", "Amt Niemegk".
    pub fn title_de(self) -> &'static str {
        match self {
            TenantKind::KreisfreieStadt | TenantKind::Stadtkreis | TenantKind::Stadt => "Stadt",
            TenantKind::GrosseKreisstadt => "Große Kreisstadt",
            TenantKind::Markt => "Markt",
            TenantKind::Gemeinde => "Gemeinde",
            TenantKind::Amt => "Amt",
            TenantKind::Samtgemeinde => "Samtgemeinde",
            TenantKind::Verbandsgemeinde => "Verbandsgemeinde",
            TenantKind::Verwaltungsgemeinschaft => "Verwaltungsgemeinschaft",
            TenantKind::Kirchspielslandschaft => "Kirchspielslandschaft",
            TenantKind::Gemeindeverwaltungsverband => "Gemeindeverwaltungsverband",
            TenantKind::ErfuellendeGemeinde => "Erfüllende Gemeinde",
        }
    }

    /// Prefix of an administration's URL slug, so that "Amt Niemegk" and "Stadt Niemegk" differ.
    fn slug_prefix(self) -> Option<&'static str> {
        match self {
            TenantKind::Amt => Some("amt"),
            TenantKind::Samtgemeinde => Some("samtgemeinde"),
            TenantKind::Verbandsgemeinde => Some("vg"),
            TenantKind::Verwaltungsgemeinschaft => Some("vwg"),
            TenantKind::Kirchspielslandschaft => Some("ksl"),
            TenantKind::Gemeindeverwaltungsverband => Some("gvv"),
            TenantKind::ErfuellendeGemeinde => Some("eg"),
            _ => None,
        }
    }
}

impl fmt::Display for TenantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The URL segment of a tenant: lower-case ASCII letters, digits and single hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a slug consists of 1 to 80 lower-case letters a-z, digits and single hyphens; got {0:?}")]
pub struct SlugError(String);

impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug for a name: German umlauts transliterated, other accents dropped, anything else
    /// turned into single hyphens. "Rabenstein/Fläming" becomes "rabenstein-flaeming".
    pub fn from_name(kind: TenantKind, name: &str) -> Slug {
        let mut out = String::new();
        if let Some(prefix) = kind.slug_prefix() {
            out.push_str(prefix);
            out.push('-');
        }
        for ch in name.chars().flat_map(char::to_lowercase) {
            let mapped: &str = match ch {
                'ä' => "ae",
                'ö' => "oe",
                'ü' => "ue",
                'ß' => "ss",
                'á' | 'à' | 'â' | 'å' | 'ã' => "a",
                'é' | 'è' | 'ê' | 'ë' | 'ě' => "e",
                'í' | 'ì' | 'î' | 'ï' => "i",
                'ó' | 'ò' | 'ô' | 'õ' | 'ø' => "o",
                'ú' | 'ù' | 'û' | 'ů' => "u",
                'ś' | 'š' => "s",
                'ć' | 'č' => "c",
                'ń' | 'ň' => "n",
                'ź' | 'ž' | 'ż' => "z",
                'ł' => "l",
                'ř' => "r",
                'ý' => "y",
                c if c.is_ascii_alphanumeric() => {
                    out.push(c);
                    continue;
                }
                _ => "-",
            };
            if mapped == "-" {
                if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            } else {
                out.push_str(mapped);
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        out.truncate(70);
        while out.ends_with('-') {
            out.pop();
        }
        if out.is_empty() {
            out.push_str("gemeinde");
        }
        Slug(out)
    }

    /// Disambiguates a slug that several tenants would share by appending the tenant's key.
    pub fn with_key(&self, key: &TenantKey) -> Slug {
        Slug(format!("{}-{}", self.0, key.as_str()))
    }
}

impl FromStr for Slug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 80
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if valid {
            Ok(Slug(s.to_owned()))
        } else {
            Err(SlugError(shorten(s)))
        }
    }
}

impl TryFrom<String> for Slug {
    type Error = SlugError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
impl From<Slug> for String {
    fn from(v: Slug) -> String {
        v.0
    }
}
impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant as the platform knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub key: TenantKey,
    /// Amtlicher Regionalschlüssel (12 digits) for municipalities; none for administrations.
    pub ars: Option<String>,
    pub kind: TenantKind,
    /// The common name, e.g. "Bad Belzig".
    pub name: String,
    /// The name as the official register spells it, e.g. "Bad Belzig, Stadt".
    pub official_name: String,
    pub slug: Slug,
    /// Name of the Kreis (district) or kreisfreie Stadt.
    pub district: String,
    /// The administration that serves this municipality, if any.
    pub parent: Option<TenantKey>,
    pub population: Option<i64>,
    pub enabled: bool,
    pub profile: TenantProfile,
}

impl Tenant {
    /// "Stadt Bad Belzig", "Gemeinde Panketal", "Amt Niemegk".
    pub fn title(&self) -> String {
        format!("{} {}", self.kind.title_de(), self.name)
    }
}

/// Data a municipality publishes about itself: contact, office hours, bank account. None of it is
/// personal data of citizens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantProfile {
    pub address: Vec<String>,
    pub postcode: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// One line per day or range of days, e.g. "Dienstag 9–12 und 13–18 Uhr".
    pub office_hours: Vec<String>,
    pub bank: Option<BankAccount>,
    /// SEPA creditor identifier (Gläubiger-Identifikationsnummer) for direct debits.
    pub creditor_id: Option<String>,
    /// Marks example values that the municipality has yet to confirm.
    pub example_data: bool,
    /// Closing lines of notices (e.g. "Im Auftrag", a name, a position).
    pub signature: Vec<String>,
    /// Where the municipality's logo or coat of arms (PNG) lies in the blob store.
    pub logo_blob: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankAccount {
    pub holder: String,
    pub iban: String,
    pub bic: Option<String>,
    pub bank_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ags_must_have_eight_digits() {
        assert!("12060181".parse::<Ags>().is_ok());
        assert!("1206018".parse::<Ags>().is_err());
        assert!("1206018a".parse::<Ags>().is_err());
        assert!("120601811".parse::<Ags>().is_err());
        assert_eq!(
            "12060181".parse::<Ags>().map(|a| a.land().to_owned()),
            Ok("12".to_owned())
        );
    }

    #[test]
    fn tenant_key_accepts_municipalities_and_administrations() {
        assert!(
            !"12060181"
                .parse::<TenantKey>()
                .map(|k| k.is_administration())
                .unwrap_or(true)
        );
        assert!(
            "120695910"
                .parse::<TenantKey>()
                .map(|k| k.is_administration())
                .unwrap_or(false)
        );
        assert!("panketal".parse::<TenantKey>().is_err());
    }

    #[test]
    fn slugs_follow_german_transliteration() {
        assert_eq!(
            Slug::from_name(TenantKind::Gemeinde, "Panketal").as_str(),
            "panketal"
        );
        assert_eq!(
            Slug::from_name(TenantKind::Stadt, "Bad Belzig").as_str(),
            "bad-belzig"
        );
        assert_eq!(
            Slug::from_name(TenantKind::Gemeinde, "Rabenstein/Fläming").as_str(),
            "rabenstein-flaeming"
        );
        assert_eq!(
            Slug::from_name(TenantKind::Gemeinde, "Mühlenfließ").as_str(),
            "muehlenfliess"
        );
        assert_eq!(
            Slug::from_name(TenantKind::Amt, "Niemegk").as_str(),
            "amt-niemegk"
        );
        assert_eq!(
            Slug::from_name(TenantKind::Stadt, "Cottbus/Chóśebuz").as_str(),
            "cottbus-chosebuz"
        );
        assert_eq!(
            Slug::from_name(TenantKind::Stadt, "Frankfurt (Oder)").as_str(),
            "frankfurt-oder"
        );
    }

    #[test]
    fn slug_parse_rejects_unsafe_segments() {
        assert!("bad-belzig".parse::<Slug>().is_ok());
        for bad in ["", "Bad", "a--b", "-a", "a-", "a/b", "a.b", "ä"] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_kind_code_round_trips() {
        for k in TenantKind::ALL {
            assert_eq!(TenantKind::from_code(k.code()), Some(k));
        }
    }
}
