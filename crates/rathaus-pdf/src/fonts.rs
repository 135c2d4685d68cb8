//! The two embedded faces and the measuring of text with their advance widths.
//!
//! Text is positioned with the fonts' plain advance widths (no kerning, no ligatures): the same
//! numbers decide line breaks, right alignment and the drawn glyph positions, so a measured line
//! is exactly as wide as the drawn one. For German business text that is all a letter needs.

use std::sync::LazyLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use crate::PdfError;

static REGULAR_TTF: &[u8] = include_bytes!("../fonts/NotoSans-Regular.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../fonts/NotoSans-Bold.ttf");

/// Parsed once per process: krilla hashes the whole font file when a `Font` is created, which
/// would otherwise cost about a millisecond per document.
static FACES: LazyLock<Option<Faces>> = LazyLock::new(Faces::load);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

pub(crate) struct Face {
    pub(crate) font: Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
    /// Glyph and advance (in em) of the characters German letters are made of, looked up once:
    /// the font's tables are searched per character otherwise, a tenth of a notice's time.
    common: Vec<Option<(skrifa::GlyphId, f32)>>,
}

/// The ranges held in [`Face::common`]: Latin up to Latin Extended-B, then general
/// punctuation, super- and subscripts and currency signs (dashes, „quotes“, €).
const COMMON: [std::ops::Range<u32>; 2] = [0..0x250, 0x2000..0x20C0];

fn common_index(ch: char) -> Option<usize> {
    let c = u32::from(ch);
    let mut offset = 0;
    for range in COMMON {
        if range.contains(&c) {
            return usize::try_from(c - range.start + offset).ok();
        }
        offset += range.end - range.start;
    }
    None
}

pub(crate) struct Faces {
    regular: Face,
    bold: Face,
}

impl Faces {
    pub(crate) fn get() -> Result<&'static Faces, PdfError> {
        FACES.as_ref().ok_or(PdfError::Font)
    }

    fn load() -> Option<Faces> {
        Some(Faces {
            regular: Face::load(REGULAR_TTF)?,
            bold: Face::load(BOLD_TTF)?,
        })
    }

    pub(crate) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// Rejects text the embedded fonts cannot show: PDF/A forbids the .notdef glyph, and an
    /// official notice must not silently print a name with boxes or question marks in it.
    pub(crate) fn check(&self, text: &str) -> Result<(), PdfError> {
        for ch in text.chars() {
            if ch == '\n' || ch == '\t' {
                continue;
            }
            if ch.is_control() || self.regular.glyph(ch).is_none() || self.bold.glyph(ch).is_none()
            {
                return Err(PdfError::UnsupportedCharacter(u32::from(ch)));
            }
        }
        Ok(())
    }
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Face> {
        let font = Font::new(data.into(), 0)?;
        let font_ref = FontRef::new(data).ok()?;
        let units_per_em = f32::from(
            font_ref
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        let mut face = Face {
            font,
            charmap: font_ref.charmap(),
            metrics: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
            common: Vec::new(),
        };
        face.common = COMMON
            .into_iter()
            .flatten()
            .map(|c| char::from_u32(c).and_then(|ch| face.look_up(ch)))
            .collect();
        Some(face)
    }

    /// The glyph (never .notdef) and its advance in em units.
    fn look_up(&self, ch: char) -> Option<(skrifa::GlyphId, f32)> {
        let glyph = self.charmap.map(ch).filter(|g| g.to_u32() != 0)?;
        let advance = self.metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em;
        Some((glyph, advance))
    }

    fn glyph_and_advance(&self, ch: char) -> Option<(skrifa::GlyphId, f32)> {
        match common_index(ch).and_then(|i| self.common.get(i)) {
            Some(known) => *known,
            None => self.look_up(ch),
        }
    }

    fn glyph(&self, ch: char) -> Option<skrifa::GlyphId> {
        self.glyph_and_advance(ch).map(|(g, _)| g)
    }

    /// Advance of one character in em units; unmapped characters (already rejected by
    /// [`Faces::check`]) count as nothing.
    fn advance_em(&self, ch: char) -> f32 {
        self.glyph_and_advance(ch).map_or(0.0, |(_, a)| a)
    }

    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance_em(c)).sum::<f32>() * size
    }

    /// Glyphs for one line, each pointing at its bytes in `text` so that copying and
    /// screen readers get the original characters back.
    pub(crate) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, ch)| {
                let (gid, advance) = self
                    .glyph_and_advance(ch)
                    .map_or((0, 0.0), |(g, a)| (g.to_u32(), a));
                KrillaGlyph::new(
                    GlyphId::new(gid),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    i..i + ch.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

/// Breaks `text` into lines no wider than `max_width`: at spaces, at explicit newlines, and
/// inside a word only when the word alone is wider than the line.
///
/// A line that ends at a word boundary keeps one trailing space: PDF/A-2a wants word
/// boundaries as real space characters, or screen readers and copy-paste run the last word of
/// one line into the first of the next. Measure such lines with `trim_end` where it matters.
pub(crate) fn wrap(face: &Face, text: &str, size: f32, max_width: f32) -> Vec<String> {
    let space = face.width(" ", size);
    let mut lines = Vec::new();
    let mut hard_lines = text.split('\n').peekable();
    while let Some(hard_line) = hard_lines.next() {
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in hard_line.split([' ', '\t']).filter(|w| !w.is_empty()) {
            let word_width = face.width(word, size);
            if !line.is_empty() && line_width + space + word_width <= max_width {
                line.push(' ');
                line.push_str(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                line.push(' ');
                lines.push(std::mem::take(&mut line));
            }
            if word_width <= max_width {
                line.push_str(word);
                line_width = word_width;
                continue;
            }
            // A word longer than the whole line (an IBAN without spaces, a URL): cut it
            // wherever the line is full rather than letting it run off the page.
            line_width = 0.0;
            for ch in word.chars() {
                let w = face.advance_em(ch) * size;
                if !line.is_empty() && line_width + w > max_width {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(ch);
                line_width += w;
            }
        }
        if hard_lines.peek().is_some() {
            line.push(' ');
        }
        lines.push(line);
    }
    lines
}

/// Wraps several texts that form one tagged group (the lines of an address), keeping a space
/// between them for the same reason as [`wrap`].
pub(crate) fn wrap_all(face: &Face, texts: &[String], size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let mut wrapped = wrap(face, text, size, max_width);
        if i + 1 < texts.len()
            && let Some(last) = wrapped.last_mut()
            && !last.ends_with(' ')
        {
            last.push(' ');
        }
        lines.extend(wrapped);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_wraps_german_text() {
        let faces = Faces::get().unwrap();
        let face = faces.face(Weight::Regular);
        assert!(face.width("Straße", 10.0) > face.width("Strae", 10.0));
        faces.check("Grüße „äöüß“ – § 3 €").unwrap();
        assert!(matches!(
            faces.check("漢"),
            Err(PdfError::UnsupportedCharacter(0x6F22))
        ));

        let text = "Die Hundesteuer für das Kalenderjahr wird hiermit festgesetzt.";
        let lines = wrap(face, text, 10.0, 100.0);
        assert!(lines.len() > 1);
        for line in &lines {
            assert!(face.width(line.trim_end(), 10.0) <= 100.0, "{line}");
        }
        assert_eq!(lines.concat(), text);
        assert!(lines[..lines.len() - 1].iter().all(|l| l.ends_with(' ')));

        let long = "DE02120300000000202051DE02120300000000202051";
        let cut = wrap(face, long, 10.0, 80.0);
        assert!(cut.len() > 1);
        assert_eq!(cut.concat(), long);

        // The table of common characters says what the font's own tables say.
        for ch in "aÄßé€„“–\u{1ea0}Ωж".chars() {
            assert_eq!(face.glyph_and_advance(ch), face.look_up(ch), "{ch}");
        }
        assert_eq!(face.glyph_and_advance('\u{2001}'), face.look_up('\u{2001}'));

        assert_eq!(wrap(face, "a\n\nb", 10.0, 100.0), vec!["a ", " ", "b"]);
        let address = ["Frau".to_owned(), "Erika Muster".to_owned()];
        assert_eq!(
            wrap_all(face, &address, 10.0, 100.0),
            vec!["Frau ", "Erika Muster"]
        );
    }
}
