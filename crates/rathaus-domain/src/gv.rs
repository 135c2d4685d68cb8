//! Reading the Destatis GV-ISys extract ("Auszug GV"), the official register of all German
//! municipalities and their associations, into tenants.
//!
//! Format: UTF-8 (a byte-order mark is tolerated), comma-separated, one header line, then records
//! with `satzart` 10 (Land), 20 (Regierungsbezirk), 30 (Region), 40 (Kreis), 50 (Gemeindeverband)
//! and 60 (Gemeinde). Textkennzeichen of a Gemeindeverband: 50 verbandsfrei, 51 Amt,
//! 52 Samtgemeinde, 53 Verbandsgemeinde, 54 vereinbarte Verwaltungsgemeinschaft,
//! 55 Kirchspielslandschaft, 56 Gemeindeverwaltungsverband, 58 erfüllende Gemeinde. Of a Gemeinde:
//! 60 Markt, 61 kreisfreie Stadt, 62 Stadtkreis, 63 Stadt, 64 Gemeinde, 65/66 gemeindefreies
//! Gebiet (no municipality, skipped), 67 Große Kreisstadt.

use std::collections::{BTreeMap, HashMap};

use crate::tenant::{Slug, Tenant, TenantKey, TenantKind, TenantProfile};

/// The columns the extract must have, in this order.
pub const HEADER: [&str; 20] = [
    "satzart",
    "textkennzeichen",
    "land",
    "rb",
    "kreis",
    "vb",
    "gemeinde",
    "gemeindename",
    "flaeche",
    "bevoelkerung",
    "maennlich",
    "weiblich",
    "jekm2",
    "postleitzahl",
    "laengengrad",
    "breitengrad",
    "schluessel",
    "bezeichnung",
    "verstaedterungschluessel",
    "verstaedterungbezeichnung",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct GvError {
    pub line: u64,
    pub message: String,
}

fn err(line: u64, message: impl Into<String>) -> GvError {
    GvError {
        line,
        message: message.into(),
    }
}

/// What the extract holds, ready to be stored. Tenants come out disabled.
#[derive(Debug, Default)]
pub struct GvExtract {
    pub administrations: Vec<Tenant>,
    pub municipalities: Vec<Tenant>,
}

impl GvExtract {
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.administrations
            .iter()
            .chain(self.municipalities.iter())
    }
}

struct Field<'a> {
    record: &'a csv::StringRecord,
    line: u64,
}

impl<'a> Field<'a> {
    fn get(&self, idx: usize) -> &'a str {
        self.record.get(idx).unwrap_or("").trim()
    }
    fn digits(&self, idx: usize, len: usize) -> Result<&'a str, GvError> {
        let v = self.get(idx);
        if v.len() == len && v.bytes().all(|b| b.is_ascii_digit()) {
            Ok(v)
        } else {
            Err(err(
                self.line,
                format!(
                    "column {:?} must have {len} digits, found {:?}",
                    HEADER[idx], v
                ),
            ))
        }
    }
}

/// Parses a whole extract. Fails on the first malformed record, naming its line, so that nothing is
/// imported from a broken file.
pub fn parse(input: &[u8]) -> Result<GvExtract, GvError> {
    let input = input
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(input);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| err(1, format!("unreadable header: {e}")))?
        .clone();
    let found: Vec<&str> = header.iter().map(str::trim).collect();
    if found != HEADER {
        return Err(err(
            1,
            format!(
                "the header must be {:?}; found {:?}",
                HEADER.join(","),
                found.join(",")
            ),
        ));
    }

    let mut districts: HashMap<String, String> = HashMap::new();
    // Verband key -> (kind, name); verbandsfrei entries are kept out.
    let mut administrations: BTreeMap<String, (TenantKind, String)> = BTreeMap::new();
    let mut raw_municipalities: Vec<RawMunicipality> = Vec::new();
    let mut seen_ags: HashMap<String, u64> = HashMap::new();

    for (index, result) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = result.map_err(|e| err(line, format!("not a valid CSV record: {e}")))?;
        if record.len() != HEADER.len() {
            return Err(err(
                line,
                format!("expected {} columns, found {}", HEADER.len(), record.len()),
            ));
        }
        let f = Field {
            record: &record,
            line,
        };
        let name = f.get(7);
        match f.get(0) {
            "10" | "20" | "30" => {}
            "40" => {
                let key = format!("{}{}{}", f.digits(2, 2)?, f.digits(3, 1)?, f.digits(4, 2)?);
                require_name(name, line)?;
                districts.insert(key, name.to_owned());
            }
            "50" => {
                let key = format!(
                    "{}{}{}{}",
                    f.digits(2, 2)?,
                    f.digits(3, 1)?,
                    f.digits(4, 2)?,
                    f.digits(5, 4)?
                );
                require_name(name, line)?;
                let kind = match f.get(1) {
                    "50" => None,
                    "51" => Some(TenantKind::Amt),
                    "52" => Some(TenantKind::Samtgemeinde),
                    "53" => Some(TenantKind::Verbandsgemeinde),
                    "54" => Some(TenantKind::Verwaltungsgemeinschaft),
                    "55" => Some(TenantKind::Kirchspielslandschaft),
                    "56" => Some(TenantKind::Gemeindeverwaltungsverband),
                    "58" => Some(TenantKind::ErfuellendeGemeinde),
                    other => {
                        return Err(err(
                            line,
                            format!("unknown textkennzeichen {other:?} for a Gemeindeverband"),
                        ));
                    }
                };
                if let Some(kind) = kind {
                    administrations.insert(key, (kind, name.to_owned()));
                }
            }
            "60" => {
                let kind = match f.get(1) {
                    "60" => TenantKind::Markt,
                    "61" => TenantKind::KreisfreieStadt,
                    "62" => TenantKind::Stadtkreis,
                    "63" => TenantKind::Stadt,
                    "64" => TenantKind::Gemeinde,
                    "67" => TenantKind::GrosseKreisstadt,
                    // Gemeindefreie Gebiete (forests, military areas) have no administration of their own.
                    "65" | "66" => continue,
                    other => {
                        return Err(err(
                            line,
                            format!("unknown textkennzeichen {other:?} for a Gemeinde"),
                        ));
                    }
                };
                let (land, rb, kreis) = (f.digits(2, 2)?, f.digits(3, 1)?, f.digits(4, 2)?);
                let (vb, gemeinde) = (f.digits(5, 4)?, f.digits(6, 3)?);
                require_name(name, line)?;
                let ags = format!("{land}{rb}{kreis}{gemeinde}");
                if let Some(first) = seen_ags.insert(ags.clone(), line) {
                    return Err(err(
                        line,
                        format!("AGS {ags} appears twice (first on line {first})"),
                    ));
                }
                let population = parse_population(f.get(9)).map_err(|m| err(line, m))?;
                let postcode = f.get(13);
                if !(postcode.is_empty()
                    || (postcode.len() == 5 && postcode.bytes().all(|b| b.is_ascii_digit())))
                {
                    return Err(err(
                        line,
                        format!(
                            "column \"postleitzahl\" must be empty or 5 digits, found {postcode:?}"
                        ),
                    ));
                }
                raw_municipalities.push(RawMunicipality {
                    line,
                    kind,
                    ags,
                    ars: format!("{land}{rb}{kreis}{vb}{gemeinde}"),
                    verband: format!("{land}{rb}{kreis}{vb}"),
                    district_key: format!("{land}{rb}{kreis}"),
                    official_name: name.to_owned(),
                    population,
                    postcode: (!postcode.is_empty()).then(|| postcode.to_owned()),
                });
            }
            other => {
                return Err(err(
                    line,
                    format!("unknown satzart {other:?} (expected 10, 20, 30, 40, 50 or 60)"),
                ));
            }
        }
    }

    let mut out = GvExtract::default();
    let mut admin_population: HashMap<&str, i64> = HashMap::new();
    for m in &raw_municipalities {
        if administrations.contains_key(&m.verband) {
            *admin_population.entry(m.verband.as_str()).or_default() += m.population.unwrap_or(0);
        }
    }
    for (key, (kind, official_name)) in &administrations {
        let district_key = &key[..5];
        let tenant_key: TenantKey = key.parse().map_err(|e| err(0, format!("{e}")))?;
        let name = common_name(official_name);
        out.administrations.push(Tenant {
            slug: Slug::from_name(*kind, &name),
            key: tenant_key,
            ars: None,
            kind: *kind,
            name,
            official_name: official_name.clone(),
            district: districts.get(district_key).cloned().unwrap_or_default(),
            parent: None,
            population: admin_population.get(key.as_str()).copied(),
            enabled: false,
            profile: TenantProfile::default(),
        });
    }
    for m in raw_municipalities {
        let key: TenantKey = m.ags.parse().map_err(|e| err(m.line, format!("{e}")))?;
        let parent = match administrations.contains_key(&m.verband) {
            true => Some(m.verband.parse().map_err(|e| err(m.line, format!("{e}")))?),
            false => None,
        };
        let name = common_name(&m.official_name);
        out.municipalities.push(Tenant {
            slug: Slug::from_name(m.kind, &name),
            key,
            ars: Some(m.ars),
            kind: m.kind,
            name,
            official_name: m.official_name,
            district: districts.get(&m.district_key).cloned().unwrap_or_default(),
            parent,
            population: m.population,
            enabled: false,
            profile: TenantProfile {
                postcode: m.postcode,
                ..TenantProfile::default()
            },
        });
    }
    disambiguate_slugs(&mut out);
    Ok(out)
}

struct RawMunicipality {
    line: u64,
    kind: TenantKind,
    ags: String,
    ars: String,
    verband: String,
    district_key: String,
    official_name: String,
    population: Option<i64>,
    postcode: Option<String>,
}

fn require_name(name: &str, line: u64) -> Result<(), GvError> {
    if name.is_empty() {
        Err(err(line, "column \"gemeindename\" is empty"))
    } else {
        Ok(())
    }
}

/// "20 596" (a space as thousands separator) to 20596; empty means unknown.
fn parse_population(raw: &str) -> Result<Option<i64>, String> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Ok(None);
    }
    digits
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("column \"bevoelkerung\" is not a number: {raw:?}"))
}

/// The name without the register's suffix: "Bad Belzig, Stadt" becomes "Bad Belzig",
/// "Tüßling, M" becomes "Tüßling".
pub fn common_name(official: &str) -> String {
    official
        .split(',')
        .next()
        .unwrap_or(official)
        .trim()
        .to_owned()
}

/// Several municipalities may share a name ("Neuenhagen", "Neustadt"). The one with the most
/// inhabitants keeps the plain slug, the others get their key appended, so the result depends only
/// on the extract and not on the order of its lines.
fn disambiguate_slugs(extract: &mut GvExtract) {
    let mut groups: HashMap<Slug, Vec<(i64, TenantKey)>> = HashMap::new();
    for t in extract.tenants() {
        groups
            .entry(t.slug.clone())
            .or_default()
            .push((t.population.unwrap_or(0), t.key.clone()));
    }
    let mut keep_plain: HashMap<Slug, TenantKey> = HashMap::new();
    for (slug, mut members) in groups {
        members.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        if let Some((_, key)) = members.into_iter().next() {
            keep_plain.insert(slug, key);
        }
    }
    for t in extract
        .administrations
        .iter_mut()
        .chain(extract.municipalities.iter_mut())
    {
        if keep_plain.get(&t.slug) != Some(&t.key) {
            t.slug = t.slug.with_key(&t.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "satzart,textkennzeichen,land,rb,kreis,vb,gemeinde,gemeindename,flaeche,bevoelkerung,maennlich,weiblich,jekm2,postleitzahl,laengengrad,breitengrad,schluessel,bezeichnung,verstaedterungschluessel,verstaedterungbezeichnung\n";

    fn sample() -> String {
        format!(
            "\u{feff}{HEAD}\
10,,12,,,,,Brandenburg,,,,,,,,,,,,\n\
40,44,12,0,69,,,Potsdam-Mittelmark,,,,,,,,,,,,\n\
50,50,12,0,69,0020,,\"Bad Belzig, Stadt\",,,,,,,,,,,,\n\
60,63,12,0,69,0020,020,\"Bad Belzig, Stadt\", 236.07, 11 141, 5 485, 5 656,  47,14806,\"12,586743\",\"52,140642\",A11,Fläming,02,mittlere Besiedlungsdichte\n\
50,51,12,0,69,5910,,Niemegk,,,,,,,,,,,,\n\
60,64,12,0,69,5910,402,Mühlenfließ, 58.71,  901,  452,  449,  15,14823,\"12,844257\",\"52,145867\",A11,Fläming,03,gering besiedelt\n\
60,63,12,0,69,5910,448,\"Niemegk, Stadt\", 45.12, 2 006, 1 020,  986,  44,14823,\"12,688242\",\"52,076873\",A11,Fläming,03,gering besiedelt\n\
60,66,12,0,69,9999,999,\"Forst (gemfr. Gebiet)\", 1.00,  0,  0,  0,  0,,\"12,6\",\"52,0\",A11,Fläming,03,gering besiedelt\n"
        )
    }

    #[test]
    fn reads_municipalities_and_their_amt() {
        let x = parse(sample().as_bytes()).expect("parses");
        assert_eq!(x.municipalities.len(), 3);
        assert_eq!(x.administrations.len(), 1);
        let amt = &x.administrations[0];
        assert_eq!(amt.key.as_str(), "120695910");
        assert_eq!(amt.kind, TenantKind::Amt);
        assert_eq!(amt.slug.as_str(), "amt-niemegk");
        assert_eq!(amt.population, Some(2907));
        let belzig = x
            .municipalities
            .iter()
            .find(|m| m.key.as_str() == "12069020")
            .expect("belzig");
        assert_eq!(belzig.name, "Bad Belzig");
        assert_eq!(belzig.title(), "Stadt Bad Belzig");
        assert_eq!(belzig.slug.as_str(), "bad-belzig");
        assert_eq!(belzig.ars.as_deref(), Some("120690020020"));
        assert_eq!(belzig.parent, None);
        assert_eq!(belzig.population, Some(11141));
        assert_eq!(belzig.district, "Potsdam-Mittelmark");
        assert!(!belzig.enabled);
        let niemegk = x
            .municipalities
            .iter()
            .find(|m| m.key.as_str() == "12069448")
            .expect("niemegk");
        assert_eq!(
            niemegk.parent.as_ref().map(TenantKey::as_str),
            Some("120695910")
        );
        assert_eq!(niemegk.slug.as_str(), "niemegk");
    }

    #[test]
    fn names_the_line_of_a_malformed_record() {
        let bad = sample().replace("60,64,12,0,69,5910,402", "60,64,12,0,69,5910,4x2");
        let e = parse(bad.as_bytes()).expect_err("must fail");
        assert_eq!(e.line, 7);
        assert!(e.message.contains("gemeinde"), "{}", e.message);

        let short = format!("{HEAD}60,64,12,0\n");
        assert_eq!(parse(short.as_bytes()).expect_err("fails").line, 2);

        let wrong_header = "a,b,c\n";
        assert_eq!(parse(wrong_header.as_bytes()).expect_err("fails").line, 1);

        let dup = format!(
            "{}{}",
            sample(),
            "60,64,12,0,69,5910,402,Doppelt, 1.0, 1, 1, 0, 1,14823,\"1\",\"1\",A11,X,03,y\n"
        );
        let e = parse(dup.as_bytes()).expect_err("fails");
        assert!(e.message.contains("twice"), "{}", e.message);
    }

    #[test]
    fn shared_names_get_distinct_slugs_independent_of_order() {
        let a = "60,64,12,0,69,5910,402,Gleich, 1.0, 500, 1, 0, 1,14823,\"1\",\"1\",A11,X,03,y\n";
        let b = "60,64,12,0,69,5910,474,Gleich, 1.0, 900, 1, 0, 1,14823,\"1\",\"1\",A11,X,03,y\n";
        for body in [format!("{HEAD}{a}{b}"), format!("{HEAD}{b}{a}")] {
            let x = parse(body.as_bytes()).expect("parses");
            let slug = |ags: &str| {
                x.municipalities
                    .iter()
                    .find(|m| m.key.as_str() == ags)
                    .map(|m| m.slug.to_string())
            };
            assert_eq!(slug("12069474").as_deref(), Some("gleich"));
            assert_eq!(slug("12069402").as_deref(), Some("gleich-12069402"));
        }
    }
}
