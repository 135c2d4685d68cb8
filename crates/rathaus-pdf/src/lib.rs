//! Renders simple official letters — a submission receipt, a Bescheid, a dog-tax notice — as
//! tagged, archivable PDFs (PDF/A-2a and PDF/UA-1, checked by krilla's validators on every
//! render).
//!
//! The document model knows nothing of the platform's business types: callers turn their case
//! into a [`Document`] of headings, paragraphs, tables and the like, and [`render`] lays it out
//! on A4 pages in the manner of DIN 5008 (letterhead, address window on the left, reference
//! block on the right, page numbers in the footer).
//!
//! Text is set in Noto Sans (regular and bold), embedded in the binary and subset into each
//! PDF, so no fonts are needed on the machine that renders.

mod fonts;
mod layout;
mod qr;
mod render;
pub mod testing;

use time::OffsetDateTime;

/// A letter to render.
#[derive(Clone, Debug)]
pub struct Document {
    /// The document title for PDF viewers and screen readers, e.g. "Hundesteuerbescheid 2026".
    pub title: String,
    /// BCP 47 language of the text, e.g. "de-DE".
    pub lang: String,
    /// When the document was made; PDF/A requires it in the metadata. Passed in because the
    /// renderer reads no clock.
    pub created: OffsetDateTime,
    pub letterhead: Letterhead,
    /// Address lines for the window envelope; may be empty (e.g. a receipt shown online).
    pub recipient: Vec<String>,
    /// Shown below the reference block, e.g. "Panketal, 14. Januar 2026".
    pub date_line: Option<String>,
    /// Label and value pairs shown top right, e.g. ("Aktenzeichen", "HST-2026-000123").
    pub reference_lines: Vec<(String, String)>,
    pub blocks: Vec<Block>,
    /// Small print at the foot of every page (bank details, opening hours), one entry a line.
    pub footer: Vec<String>,
}

/// The issuing authority, printed at the top of the first page.
#[derive(Clone, Debug, Default)]
pub struct Letterhead {
    /// e.g. "Gemeinde Panketal".
    pub authority: String,
    /// Address, phone, e-mail, web; set small below the authority's name.
    pub lines: Vec<String>,
    /// The one-line sender above the recipient in the address window, e.g.
    /// "Gemeinde Panketal · Schönerlinder Str. 47 · 16341 Panketal".
    pub return_address: Option<String>,
    /// A PNG logo drawn top right. It is decorative (the authority's name is printed as text),
    /// so it is marked as an artifact and needs no alternative text.
    pub logo_png: Option<Vec<u8>>,
}

/// One piece of the letter's body, laid out top to bottom.
#[derive(Clone, Debug)]
pub enum Block {
    /// The subject line (level-1 heading), set in bold.
    Heading(String),
    /// A section heading inside the letter (level 2).
    Subheading(String),
    /// Running text; wrapped to the page width. `\n` forces a line break.
    Paragraph(String),
    /// Label and value pairs in two columns (tagged as a table with row headers).
    KeyValues(Vec<(String, String)>),
    Table(Table),
    /// A QR code (e.g. an EPC "GiroCode" payment payload) with a caption beside it.
    QrCode {
        payload: String,
        caption: String,
        /// What a screen reader announces for the code, e.g. "QR-Code für die Überweisung".
        alt: String,
    },
    /// Closing lines kept together on one page; an empty string leaves room for a signature.
    Signature(Vec<String>),
    /// One empty line.
    Spacer,
}

/// A table that may run over several pages; its header row is repeated on each.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub caption: Option<String>,
    pub header: Vec<String>,
    /// Every row (and every row of `totals`) has as many cells as the header. Use a no-break
    /// space (U+00A0) where a cell must not wrap, e.g. between an amount and "€".
    pub rows: Vec<Vec<String>>,
    /// Rows set in bold after the body, e.g. "Summe"; tagged as the table's footer.
    pub totals: Vec<Vec<String>>,
    /// Per column: right-align (amounts). Missing entries mean left-aligned.
    pub align_right: Vec<bool>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    /// The embedded fonts have no glyph for this character (U+ code point).
    #[error("character U+{0:04X} cannot be printed with the embedded font")]
    UnsupportedCharacter(u32),
    #[error("table {table}: row {row} has {cells} cells, the header has {columns}")]
    TableShape {
        table: usize,
        row: usize,
        cells: usize,
        columns: usize,
    },
    #[error("table {0} has no columns")]
    EmptyTable(usize),
    #[error("QR code payload cannot be encoded: {0}")]
    QrCode(String),
    #[error("the logo is not a usable PNG image")]
    Logo,
    #[error("the embedded fonts could not be loaded")]
    Font,
    /// krilla refused the document; lists the failed PDF/A or PDF/UA rules by name only, so no
    /// document text ends up in logs.
    #[error("the PDF does not conform to PDF/A-2a / PDF/UA-1: {0}")]
    Validation(String),
    #[error("PDF export failed: {0}")]
    Export(String),
}

/// Renders `doc` into the bytes of a PDF/A-2a and PDF/UA-1 file.
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let laid = layout::layout(doc)?;
    render::emit(doc, laid)
}

/// Replaces characters the embedded fonts cannot show (emoji, scripts beyond Latin, Greek and
/// Cyrillic) with "?", for free text typed by citizens that must not make a receipt fail.
/// Names and addresses on notices are better checked when they are entered.
pub fn printable(text: &str) -> String {
    let Ok(faces) = fonts::Faces::get() else {
        return text
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_control() || c == '\n' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
    };
    text.chars()
        .map(|c| {
            let mut buf = [0u8; 4];
            if c == '\n' || c == '\t' || faces.check(c.encode_utf8(&mut buf)).is_ok() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
