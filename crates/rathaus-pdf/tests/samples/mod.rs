//! Sample letters shared by the tests and the examples.
#![allow(dead_code)]

use rathaus_pdf::{Block, Document, Letterhead, Table};
use time::macros::datetime;

pub const IBAN: &str = "DE02 1203 0000 0000 2020 51";

fn letterhead() -> Letterhead {
    Letterhead {
        authority: "Gemeinde Panketal".to_owned(),
        lines: vec![
            "Schönerlinder Straße 47, 16341 Panketal".to_owned(),
            "Telefon 030 94511-0".to_owned(),
            "steuern@panketal.example".to_owned(),
            "www.panketal.example".to_owned(),
        ],
        return_address: Some(
            "Gemeinde Panketal · Schönerlinder Straße 47 · 16341 Panketal".to_owned(),
        ),
        logo_png: None,
    }
}

fn footer() -> Vec<String> {
    vec![
        "Bankverbindung: Sparkasse Barnim · IBAN DE02 1203 0000 0000 2020 51 · BIC BYLADEM1001"
            .to_owned(),
        "Sprechzeiten: Di 9–12 und 13–18 Uhr, Do 9–12 und 13–16 Uhr · Gläubiger-ID DE98ZZZ09999999999"
            .to_owned(),
    ]
}

/// The receipt a citizen gets after submitting an online form.
pub fn receipt() -> Document {
    Document {
        title: "Eingangsbestätigung HST-2026-000123".to_owned(),
        lang: "de-DE".to_owned(),
        created: datetime!(2026-01-14 10:32:05 +01:00),
        letterhead: letterhead(),
        recipient: vec![
            "Frau".to_owned(),
            "Jördis Müller-Weißenböck".to_owned(),
            "Lindenstraße 5".to_owned(),
            "16341 Panketal".to_owned(),
        ],
        date_line: Some("Panketal, 14. Januar 2026".to_owned()),
        reference_lines: vec![
            ("Aktenzeichen".to_owned(), "HST-2026-000123".to_owned()),
            ("Eingang".to_owned(), "14.01.2026, 10:32 Uhr".to_owned()),
            ("Zuständig".to_owned(), "Fachbereich Finanzen, Steuern".to_owned()),
        ],
        blocks: vec![
            Block::Heading("Eingangsbestätigung: Anmeldung eines Hundes zur Hundesteuer".to_owned()),
            Block::Paragraph(
                "Sehr geehrte Frau Müller-Weißenböck,\n\nwir haben Ihren Antrag am 14.01.2026 um 10:32 Uhr erhalten. \
                 Sie müssen nichts weiter tun: Über das Ergebnis erhalten Sie einen schriftlichen Bescheid. \
                 Bitte geben Sie bei Rückfragen immer das Aktenzeichen an."
                    .to_owned(),
            ),
            Block::Subheading("Ihre Angaben".to_owned()),
            Block::KeyValues(vec![
                ("Hund".to_owned(), "„Bello“, Labrador-Mischling, geboren 03/2024".to_owned()),
                ("Haltung seit".to_owned(), "01.01.2026".to_owned()),
                ("Ermäßigung".to_owned(), "beantragt (Rettungshund nach § 4 Abs. 2 der Hundesteuersatzung)".to_owned()),
                ("Zahlungsweise".to_owned(), "SEPA-Lastschrift".to_owned()),
            ]),
            Block::Signature(vec![
                "Mit freundlichen Grüßen".to_owned(),
                "Ihre Gemeindeverwaltung Panketal".to_owned(),
                String::new(),
                "Dieses Schreiben wurde maschinell erstellt und ist ohne Unterschrift gültig.".to_owned(),
            ]),
        ],
        footer: footer(),
    }
}

/// German money format with a no-break space before the sign: "1.234,56 €".
pub fn euro(cents: u32) -> String {
    let euros = cents / 100;
    let grouped = if euros >= 1000 {
        format!("{}.{:03}", euros / 1000, euros % 1000)
    } else {
        euros.to_string()
    };
    format!("{grouped},{:02}\u{a0}€", cents % 100)
}

pub fn epc_payload(amount: &str, reference: &str) -> String {
    format!(
        "BCD\n002\n1\nSCT\nBYLADEM1001\nGemeinde Panketal\n{}\nEUR{amount}\n\n\n{reference}",
        IBAN.replace(' ', "")
    )
}

/// A dog-tax notice whose table of periods runs onto a second page.
pub fn notice() -> Document {
    let mut rows = Vec::new();
    let mut total_cents = 0u32;
    for year in 2019..=2026 {
        for (quarter, due) in [
            ("I", "15.02."),
            ("II", "15.05."),
            ("III", "15.08."),
            ("IV", "15.11."),
        ] {
            let cents = if year < 2023 { 1800 } else { 2400 };
            total_cents += cents;
            rows.push(vec![
                format!("{quarter}. Quartal {year}"),
                "Bello (Ersthund)".to_owned(),
                format!("§ 5 Abs. 1: {}", euro(cents * 4)),
                format!("{due}{year}"),
                euro(cents),
            ]);
        }
    }
    let totals = vec![vec![
        "Summe".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        euro(total_cents),
    ]];
    Document {
        title: "Hundesteuerbescheid 2026 – HST-2026-000123".to_owned(),
        lang: "de-DE".to_owned(),
        created: datetime!(2026-01-20 08:00:00 +01:00),
        letterhead: letterhead(),
        recipient: vec![
            "Frau".to_owned(),
            "Jördis Müller-Weißenböck".to_owned(),
            "Lindenstraße 5".to_owned(),
            "16341 Panketal".to_owned(),
        ],
        date_line: Some("Panketal, 20. Januar 2026".to_owned()),
        reference_lines: vec![
            ("Aktenzeichen".to_owned(), "HST-2026-000123".to_owned()),
            ("Kassenzeichen".to_owned(), "5.7110.004711".to_owned()),
            ("Auskunft".to_owned(), "Frau Schröder, Zimmer 2.14".to_owned()),
            ("Telefon".to_owned(), "030 94511-214".to_owned()),
        ],
        blocks: vec![
            Block::Heading("Bescheid über die Festsetzung der Hundesteuer".to_owned()),
            Block::Paragraph(
                "Sehr geehrte Frau Müller-Weißenböck,\n\naufgrund der Satzung über die Erhebung der Hundesteuer in der \
                 Gemeinde Panketal (Hundesteuersatzung) vom 12. Dezember 2018 in der derzeit geltenden Fassung wird \
                 die Hundesteuer für die nachstehend aufgeführten Zeiträume wie folgt festgesetzt. Bereits geleistete \
                 Zahlungen werden angerechnet; Überzahlungen erstatten wir Ihnen unaufgefordert."
                    .to_owned(),
            ),
            Block::Table(Table {
                caption: Some("Festsetzung nach Zeiträumen".to_owned()),
                header: vec![
                    "Zeitraum".to_owned(),
                    "Hund".to_owned(),
                    "Jahressteuer".to_owned(),
                    "Fällig am".to_owned(),
                    "Betrag".to_owned(),
                ],
                rows,
                totals,
                align_right: vec![false, false, false, false, true],
            }),
            Block::Subheading("Zahlung".to_owned()),
            Block::Paragraph(
                "Bitte überweisen Sie den Betrag unter Angabe des Kassenzeichens 5.7110.004711 auf das unten genannte \
                 Konto oder scannen Sie den GiroCode mit Ihrer Banking-App."
                    .to_owned(),
            ),
            Block::QrCode {
                payload: epc_payload("672.00", "Kassenzeichen 5.7110.004711"),
                caption: "GiroCode: Überweisung von 672,00 € an die Gemeinde Panketal, \
                          Verwendungszweck „Kassenzeichen 5.7110.004711“."
                    .to_owned(),
                alt: "QR-Code für die Überweisung von 672,00 Euro an die Gemeinde Panketal".to_owned(),
            },
            Block::Subheading("Rechtsbehelfsbelehrung".to_owned()),
            Block::Paragraph(
                "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch erhoben werden. \
                 Der Widerspruch ist schriftlich oder zur Niederschrift beim Bürgermeister der Gemeinde Panketal, \
                 Schönerlinder Straße 47, 16341 Panketal, einzulegen. Der Widerspruch hat nach § 80 Abs. 2 Nr. 1 \
                 VwGO keine aufschiebende Wirkung."
                    .to_owned(),
            ),
            Block::Signature(vec![
                "Mit freundlichen Grüßen".to_owned(),
                "Im Auftrag".to_owned(),
                String::new(),
                "Schröder".to_owned(),
            ]),
        ],
        footer: footer(),
    }
}
