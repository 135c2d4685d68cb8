//! Places the document on A4 pages and builds its structure tree at the same time.
//!
//! Layout runs before any PDF is written because the footer's "Seite 1 von N" needs N. Every
//! piece of real content gets a content number; the structure tree refers to those numbers and
//! the emitter swaps them for krilla's marked-content identifiers.

use std::num::NonZeroU16;

use krilla::image::Image;
use krilla::tagging::{ArtifactType, TableHeaderScope, Tag, TagKind};

use crate::fonts::{Face, Faces, Weight, wrap, wrap_all};
use crate::qr::{QUIET_ZONE, QrMatrix};
use crate::{Block, Document, PdfError, Table};

pub(crate) const MM: f32 = 72.0 / 25.4;
pub(crate) const PAGE_WIDTH: f32 = 210.0 * MM;
pub(crate) const PAGE_HEIGHT: f32 = 297.0 * MM;

// DIN 5008, form B: the window of a DL/C6 envelope sits 45 mm from the top and 20 mm from the
// left edge; text starts 25 mm in, the information block at 125 mm.
const LEFT: f32 = 25.0 * MM;
const RIGHT: f32 = PAGE_WIDTH - 20.0 * MM;
const CONTENT_WIDTH: f32 = RIGHT - LEFT;
const RETURN_ADDRESS_BASELINE: f32 = 60.0 * MM;
const ADDRESS_TOP: f32 = 62.7 * MM;
const INFO_LEFT: f32 = 125.0 * MM;
const INFO_TOP: f32 = 50.0 * MM;
const BODY_TOP_FIRST: f32 = 98.5 * MM;
const BODY_TOP_NEXT: f32 = 24.0 * MM;

const BODY_SIZE: f32 = 10.0;
const BODY_LEADING: f32 = 14.0;
const SMALL_SIZE: f32 = 8.0;
const TABLE_SIZE: f32 = 9.0;
const TABLE_LEADING: f32 = 12.0;
const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 3.0;
const FOOTER_SIZE: f32 = 7.5;
const FOOTER_LEADING: f32 = 9.5;
const QR_SIDE: f32 = 32.0 * MM;

// Noto Sans vertical metrics in em, to put a baseline inside a line box.
const ASCENT: f32 = 1.069;
const DESCENT: f32 = 0.293;

pub(crate) const BLACK: u8 = 0;
const GREY: u8 = 85;
const RULE_GREY: u8 = 170;
const HEADER_FILL: u8 = 232;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Mark {
    Artifact(ArtifactType),
    /// Index into the content identifiers the emitter collects.
    Content(usize),
}

pub(crate) enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        weight: Weight,
        grey: u8,
        text: String,
        mark: Mark,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        grey: u8,
        mark: Mark,
    },
    Qr {
        x: f32,
        y: f32,
        module: f32,
        matrix: QrMatrix,
        mark: Mark,
    },
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: Image,
    },
}

pub(crate) enum Node {
    Group(TagKind, Vec<Node>),
    Leaf(usize),
}

pub(crate) struct OutlineEntry {
    pub(crate) title: String,
    pub(crate) page: usize,
    pub(crate) y: f32,
}

pub(crate) struct Laid {
    pub(crate) pages: Vec<Vec<Op>>,
    pub(crate) tree: Vec<Node>,
    pub(crate) outline: Vec<OutlineEntry>,
    pub(crate) content_count: usize,
}

pub(crate) fn layout(doc: &Document) -> Result<Laid, PdfError> {
    let faces = Faces::get()?;
    check_text(faces, doc)?;
    let bottom = PAGE_HEIGHT - footer_height(faces, doc) - 8.0 * MM;
    let mut l = Layout {
        faces,
        doc,
        pages: vec![Vec::new()],
        tree: Vec::new(),
        outline: Vec::new(),
        content_count: 0,
        y: BODY_TOP_FIRST,
        bottom,
        fresh: true,
    };
    l.first_page_head()?;
    let mut table_no = 0;
    for block in &doc.blocks {
        match block {
            Block::Heading(text) => l.heading(text, 1, 11.5),
            Block::Subheading(text) => l.heading(text, 2, BODY_SIZE),
            Block::Paragraph(text) => l.paragraph(text),
            Block::KeyValues(pairs) => l.key_values(pairs),
            Block::Table(table) => {
                table_no += 1;
                l.table(table, table_no)?;
            }
            Block::QrCode {
                payload,
                caption,
                alt,
            } => l.qr_code(payload, caption, alt)?,
            Block::Signature(lines) => l.signature(lines),
            Block::Spacer => l.y += BODY_LEADING,
        }
    }
    l.footers();
    Ok(Laid {
        pages: l.pages,
        tree: l.tree,
        outline: l.outline,
        content_count: l.content_count,
    })
}

fn check_text(faces: &Faces, doc: &Document) -> Result<(), PdfError> {
    let lh = &doc.letterhead;
    let mut texts: Vec<&str> = vec![&doc.title, &lh.authority];
    texts.extend(lh.lines.iter().map(String::as_str));
    texts.extend(lh.return_address.as_deref());
    texts.extend(doc.recipient.iter().map(String::as_str));
    texts.extend(doc.date_line.as_deref());
    for (k, v) in &doc.reference_lines {
        texts.extend([k.as_str(), v.as_str()]);
    }
    texts.extend(doc.footer.iter().map(String::as_str));
    for block in &doc.blocks {
        match block {
            Block::Heading(t) | Block::Subheading(t) | Block::Paragraph(t) => texts.push(t),
            Block::KeyValues(pairs) => {
                for (k, v) in pairs {
                    texts.extend([k.as_str(), v.as_str()]);
                }
            }
            Block::Table(t) => {
                texts.extend(t.caption.as_deref());
                texts.extend(t.header.iter().map(String::as_str));
                texts.extend(t.rows.iter().flatten().map(String::as_str));
            }
            Block::QrCode { caption, .. } => texts.push(caption),
            Block::Signature(lines) => texts.extend(lines.iter().map(String::as_str)),
            Block::Spacer => {}
        }
    }
    texts.into_iter().try_for_each(|t| faces.check(t))
}

fn footer_lines(faces: &Faces, doc: &Document) -> Vec<String> {
    let face = faces.face(Weight::Regular);
    wrap_all(face, &doc.footer, FOOTER_SIZE, CONTENT_WIDTH)
}

/// Height from the top of the footer rule to the bottom edge of the page.
fn footer_height(faces: &Faces, doc: &Document) -> f32 {
    let lines = footer_lines(faces, doc).len() as f32;
    12.0 * MM + lines * FOOTER_LEADING + if lines > 0.0 { 4.0 } else { 0.0 }
}

fn baseline(top: f32, leading: f32, size: f32) -> f32 {
    top + (leading - (ASCENT + DESCENT) * size) / 2.0 + ASCENT * size
}

struct Layout<'a> {
    faces: &'static Faces,
    doc: &'a Document,
    pages: Vec<Vec<Op>>,
    tree: Vec<Node>,
    outline: Vec<OutlineEntry>,
    content_count: usize,
    /// Top of the next free line on the current page.
    y: f32,
    bottom: f32,
    /// Nothing placed on this page's body yet: breaking again would loop.
    fresh: bool,
}

impl Layout<'_> {
    fn face(&self, weight: Weight) -> &'static Face {
        self.faces.face(weight)
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text_op(
        &mut self,
        x: f32,
        baseline: f32,
        size: f32,
        weight: Weight,
        grey: u8,
        text: &str,
        mark: Mark,
    ) {
        self.push(Op::Text {
            x,
            baseline,
            size,
            weight,
            grey,
            text: text.to_owned(),
            mark,
        });
    }

    /// Draws tagged text and returns its leaf for the structure tree.
    fn text(
        &mut self,
        x: f32,
        baseline: f32,
        size: f32,
        weight: Weight,
        grey: u8,
        text: &str,
    ) -> Node {
        let id = self.content_count;
        self.content_count += 1;
        self.text_op(x, baseline, size, weight, grey, text, Mark::Content(id));
        Node::Leaf(id)
    }

    fn rule(&mut self, x: f32, y: f32, w: f32, thickness: f32, grey: u8) {
        self.push(Op::Rect {
            x,
            y,
            w,
            h: thickness,
            grey,
            mark: Mark::Artifact(ArtifactType::Layout),
        });
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = BODY_TOP_NEXT;
        self.fresh = true;
        let doc = self.doc;
        // A running head so a loose second sheet can be matched to its letter.
        let head = format!("{} · {}", doc.letterhead.authority, doc.title);
        let base = 12.0 * MM;
        let mark = Mark::Artifact(ArtifactType::Header);
        let regular = self.face(Weight::Regular);
        let mut head_width = CONTENT_WIDTH;
        if let Some((label, value)) = doc.reference_lines.first() {
            let reference = format!("{label} {value}");
            let w = regular.width(&reference, SMALL_SIZE);
            head_width -= w + 6.0;
            self.text_op(
                RIGHT - w,
                base,
                SMALL_SIZE,
                Weight::Regular,
                GREY,
                &reference,
                mark,
            );
        }
        let head = wrap(regular, &head, SMALL_SIZE, head_width)
            .first()
            .map(|l| l.trim_end().to_owned())
            .unwrap_or_default();
        self.text_op(LEFT, base, SMALL_SIZE, Weight::Regular, GREY, &head, mark);
        self.rule(LEFT, base + 3.0, CONTENT_WIDTH, 0.5, RULE_GREY);
    }

    /// Starts a new page unless `height` still fits; returns whether it broke.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > self.bottom && !self.fresh {
            self.new_page();
            return true;
        }
        false
    }

    fn first_page_head(&mut self) -> Result<(), PdfError> {
        let doc = self.doc;
        let lh = &doc.letterhead;
        let bold = self.face(Weight::Bold);
        let regular = self.face(Weight::Regular);

        let mut name_width = CONTENT_WIDTH;
        if let Some(png) = &lh.logo_png {
            let image = Image::from_png(png.clone().into(), false).map_err(|_| PdfError::Logo)?;
            let (pw, ph) = image.size();
            if pw == 0 || ph == 0 {
                return Err(PdfError::Logo);
            }
            let scale = (50.0 * MM / pw as f32).min(22.0 * MM / ph as f32);
            let (w, h) = (pw as f32 * scale, ph as f32 * scale);
            name_width -= w + 8.0 * MM;
            self.push(Op::Image {
                x: RIGHT - w,
                y: 12.0 * MM,
                w,
                h,
                image,
            });
        }

        let mut y = 12.0 * MM;
        let mut authority = Vec::new();
        for line in wrap(bold, &lh.authority, 16.0, name_width) {
            authority.push(self.text(
                LEFT,
                baseline(y, 20.0, 16.0),
                16.0,
                Weight::Bold,
                BLACK,
                &line,
            ));
            y += 20.0;
        }
        if !authority.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), authority));
        }
        let contact = lh.lines.join("  ·  ");
        let mut contact_leaves = Vec::new();
        for line in wrap(regular, &contact, SMALL_SIZE, name_width) {
            if line.trim().is_empty() {
                continue;
            }
            contact_leaves.push(self.text(
                LEFT,
                baseline(y, 10.5, SMALL_SIZE),
                SMALL_SIZE,
                Weight::Regular,
                GREY,
                &line,
            ));
            y += 10.5;
        }
        if !contact_leaves.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), contact_leaves));
        }
        self.rule(LEFT, y.max(30.0 * MM) + 3.0, CONTENT_WIDTH, 0.75, RULE_GREY);

        // Fold marks (105 mm, 210 mm) and the punch mark (148.5 mm) of DIN 5008 form B.
        for (at, len) in [(105.0, 5.0), (148.5, 7.0), (210.0, 5.0)] {
            self.rule(4.0 * MM, at * MM, len * MM, 0.5, RULE_GREY);
        }

        let window_width = 80.0 * MM;
        if let Some(ret) = &lh.return_address {
            let line = wrap(regular, ret, 6.5, window_width)
                .first()
                .map(|l| l.trim_end().to_owned())
                .unwrap_or_default();
            let leaf = self.text(
                LEFT,
                RETURN_ADDRESS_BASELINE,
                6.5,
                Weight::Regular,
                GREY,
                &line,
            );
            self.tree.push(Node::Group(Tag::P.into(), vec![leaf]));
            let w = regular.width(&line, 6.5);
            self.rule(LEFT, RETURN_ADDRESS_BASELINE + 1.5, w, 0.3, GREY);
        }
        let mut address = Vec::new();
        let mut y = ADDRESS_TOP;
        for line in wrap_all(regular, &doc.recipient, BODY_SIZE, window_width) {
            if !line.trim().is_empty() {
                address.push(self.text(
                    LEFT,
                    baseline(y, 12.0, BODY_SIZE),
                    BODY_SIZE,
                    Weight::Regular,
                    BLACK,
                    &line,
                ));
            }
            y += 12.0;
        }
        let address_bottom = y;
        if !address.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), address));
        }

        let info_bottom = self.info_block();
        self.y = BODY_TOP_FIRST
            .max(info_bottom + 8.0 * MM)
            .max(address_bottom + 8.0 * MM);
        self.fresh = true;
        Ok(())
    }

    /// The reference block top right: label and value pairs, then the date line.
    fn info_block(&mut self) -> f32 {
        let doc = self.doc;
        let regular = self.face(Weight::Regular);
        let width = RIGHT - INFO_LEFT;
        let label_width = doc
            .reference_lines
            .iter()
            .map(|(k, _)| regular.width(k, SMALL_SIZE))
            .fold(0.0, f32::max)
            .min(width * 0.45);
        let value_left = INFO_LEFT + label_width + 8.0;
        let leading = 11.5;
        let mut y = INFO_TOP;
        let mut rows = Vec::new();
        for (label, value) in &doc.reference_lines {
            let top = y;
            let mut th = Vec::new();
            for line in wrap(regular, label, SMALL_SIZE, label_width) {
                th.push(self.text(
                    INFO_LEFT,
                    baseline(y, leading, 9.0),
                    SMALL_SIZE,
                    Weight::Regular,
                    GREY,
                    &line,
                ));
                y += leading;
            }
            let mut vy = top;
            let mut td = Vec::new();
            for line in wrap(regular, value, 9.0, RIGHT - value_left) {
                td.push(self.text(
                    value_left,
                    baseline(vy, leading, 9.0),
                    9.0,
                    Weight::Regular,
                    BLACK,
                    &line,
                ));
                vy += leading;
            }
            y = y.max(vy);
            rows.push(Node::Group(
                Tag::TR.into(),
                vec![
                    Node::Group(Tag::TH(TableHeaderScope::Row).into(), th),
                    Node::Group(Tag::TD.into(), td),
                ],
            ));
        }
        if !rows.is_empty() {
            self.tree.push(Node::Group(Tag::Table.into(), rows));
        }
        if let Some(date) = &doc.date_line {
            y += if doc.reference_lines.is_empty() {
                0.0
            } else {
                6.0
            };
            let mut leaves = Vec::new();
            for line in wrap(regular, date, 9.0, width) {
                leaves.push(self.text(
                    INFO_LEFT,
                    baseline(y, leading, 9.0),
                    9.0,
                    Weight::Regular,
                    BLACK,
                    &line,
                ));
                y += leading;
            }
            self.tree.push(Node::Group(Tag::P.into(), leaves));
        }
        y
    }

    fn heading(&mut self, text: &str, level: u16, size: f32) {
        let leading = size * 1.4;
        let bold = self.face(Weight::Bold);
        let lines = wrap(bold, text, size, CONTENT_WIDTH);
        let space_before = if self.fresh { 0.0 } else { 6.0 };
        // Keep a heading with the first lines of what it introduces.
        self.ensure(space_before + lines.len() as f32 * leading + 3.0 * BODY_LEADING);
        if !self.fresh {
            self.y += space_before;
        }
        self.outline.push(OutlineEntry {
            title: text.to_owned(),
            page: self.pages.len() - 1,
            y: self.y,
        });
        let mut leaves = Vec::new();
        for line in lines {
            leaves.push(self.text(
                LEFT,
                baseline(self.y, leading, size),
                size,
                Weight::Bold,
                BLACK,
                &line,
            ));
            self.y += leading;
        }
        // DIN 5008 leaves a blank line between the subject and the salutation.
        self.y += if level == 1 { 10.0 } else { 3.0 };
        self.fresh = false;
        let level = NonZeroU16::new(level).unwrap_or(NonZeroU16::MIN);
        self.tree.push(Node::Group(
            Tag::Hn(level, Some(text.to_owned())).into(),
            leaves,
        ));
    }

    /// Blank lines split the text into separate paragraphs for the structure tree, while the
    /// page shows them as one empty line.
    fn paragraph(&mut self, text: &str) {
        let regular = self.face(Weight::Regular);
        let mut leaves = Vec::new();
        for line in wrap(regular, text, BODY_SIZE, CONTENT_WIDTH) {
            if line.trim().is_empty() {
                if !leaves.is_empty() {
                    self.tree
                        .push(Node::Group(Tag::P.into(), std::mem::take(&mut leaves)));
                }
                self.y += BODY_LEADING;
                continue;
            }
            self.ensure(BODY_LEADING);
            leaves.push(self.text(
                LEFT,
                baseline(self.y, BODY_LEADING, BODY_SIZE),
                BODY_SIZE,
                Weight::Regular,
                BLACK,
                &line,
            ));
            self.y += BODY_LEADING;
            self.fresh = false;
        }
        self.y += 6.0;
        if !leaves.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), leaves));
        }
    }

    fn key_values(&mut self, pairs: &[(String, String)]) {
        let regular = self.face(Weight::Regular);
        let key_width = pairs
            .iter()
            .map(|(k, _)| regular.width(k, BODY_SIZE))
            .fold(0.0, f32::max)
            .min(CONTENT_WIDTH * 0.4);
        let value_left = LEFT + key_width + 12.0;
        let leading = 13.5;
        let mut rows = Vec::new();
        for (key, value) in pairs {
            let keys = wrap(regular, key, BODY_SIZE, key_width);
            let values = wrap(regular, value, BODY_SIZE, RIGHT - value_left);
            let height = keys.len().max(values.len()) as f32 * leading;
            self.ensure(height);
            let top = self.y;
            let th = self.column(&keys, LEFT, top, leading, BODY_SIZE, Weight::Regular, GREY);
            let td = self.column(
                &values,
                value_left,
                top,
                leading,
                BODY_SIZE,
                Weight::Regular,
                BLACK,
            );
            self.y = top + height;
            self.fresh = false;
            rows.push(Node::Group(
                Tag::TR.into(),
                vec![
                    Node::Group(Tag::TH(TableHeaderScope::Row).into(), th),
                    Node::Group(Tag::TD.into(), td),
                ],
            ));
        }
        self.y += 6.0;
        if !rows.is_empty() {
            self.tree.push(Node::Group(Tag::Table.into(), rows));
        }
    }

    /// Lines stacked from `top` at `x`; returns their leaves.
    #[allow(clippy::too_many_arguments)]
    fn column(
        &mut self,
        lines: &[String],
        x: f32,
        top: f32,
        leading: f32,
        size: f32,
        weight: Weight,
        grey: u8,
    ) -> Vec<Node> {
        let mut leaves = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if !line.trim().is_empty() {
                let y = baseline(top + i as f32 * leading, leading, size);
                leaves.push(self.text(x, y, size, weight, grey, line));
            }
        }
        leaves
    }

    fn table(&mut self, table: &Table, table_no: usize) -> Result<(), PdfError> {
        let columns = table.header.len();
        if columns == 0 {
            return Err(PdfError::EmptyTable(table_no));
        }
        if let Some((row, cells)) = table
            .rows
            .iter()
            .chain(&table.totals)
            .enumerate()
            .find(|(_, r)| r.len() != columns)
        {
            return Err(PdfError::TableShape {
                table: table_no,
                row: row + 1,
                cells: cells.len(),
                columns,
            });
        }
        let widths = self.column_widths(table);
        let xs: Vec<f32> = widths
            .iter()
            .scan(LEFT, |x, w| {
                let at = *x;
                *x += w;
                Some(at)
            })
            .collect();
        let right: Vec<bool> = (0..columns)
            .map(|c| table.align_right.get(c).copied().unwrap_or(false))
            .collect();
        let cell_lines = |face: &Face, cells: &[String]| -> Vec<Vec<String>> {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| wrap(face, c, TABLE_SIZE, w - 2.0 * CELL_PAD_X))
                .collect()
        };
        let header_lines = cell_lines(self.face(Weight::Bold), &table.header);
        let header_height = row_height(&header_lines);
        let body: Vec<Vec<Vec<String>>> = table
            .rows
            .iter()
            .map(|r| cell_lines(self.face(Weight::Regular), r))
            .collect();
        let totals: Vec<Vec<Vec<String>>> = table
            .totals
            .iter()
            .map(|r| cell_lines(self.face(Weight::Bold), r))
            .collect();

        let mut children = Vec::new();
        let caption_lines = table
            .caption
            .as_deref()
            .map(|c| wrap(self.face(Weight::Bold), c, BODY_SIZE, CONTENT_WIDTH))
            .unwrap_or_default();
        let first_row = body.first().map_or(0.0, |r| row_height(r));
        let space_before = if self.fresh { 0.0 } else { 4.0 };
        self.ensure(
            space_before + caption_lines.len() as f32 * BODY_LEADING + header_height + first_row,
        );
        if !self.fresh {
            self.y += space_before;
        }
        if !caption_lines.is_empty() {
            let mut leaves = Vec::new();
            for line in &caption_lines {
                leaves.push(self.text(
                    LEFT,
                    baseline(self.y, BODY_LEADING, BODY_SIZE),
                    BODY_SIZE,
                    Weight::Bold,
                    BLACK,
                    line,
                ));
                self.y += BODY_LEADING;
            }
            self.y += 2.0;
            children.push(Node::Group(Tag::Caption.into(), leaves));
        }

        let header = self.table_row(&header_lines, &xs, &widths, &right, RowKind::Header, None);
        children.push(Node::Group(
            Tag::THead.into(),
            vec![Node::Group(Tag::TR.into(), header)],
        ));
        self.fresh = false;

        let mut rows = Vec::new();
        let mut foot = Vec::new();
        let body_rows = body.iter().map(|r| (RowKind::Body, r));
        let total_rows = totals.iter().map(|r| (RowKind::Total, r));
        for (kind, lines) in body_rows.chain(total_rows) {
            if self.ensure(row_height(lines)) {
                // The repeated header is furniture: a reader already heard it once.
                let mark = Mark::Artifact(ArtifactType::PaginationOther);
                self.table_row(
                    &header_lines,
                    &xs,
                    &widths,
                    &right,
                    RowKind::Header,
                    Some(mark),
                );
            }
            let cells = self.table_row(lines, &xs, &widths, &right, kind, None);
            let row = Node::Group(Tag::TR.into(), cells);
            match kind {
                RowKind::Total => foot.push(row),
                _ => rows.push(row),
            }
            self.fresh = false;
        }
        self.rule(LEFT, self.y - 0.4, CONTENT_WIDTH, 0.8, GREY);
        self.y += 8.0;
        if !rows.is_empty() {
            children.push(Node::Group(Tag::TBody.into(), rows));
        }
        if !foot.is_empty() {
            children.push(Node::Group(Tag::TFoot.into(), foot));
        }
        self.tree.push(Node::Group(Tag::Table.into(), children));
        Ok(())
    }

    /// Draws one row at `self.y` and advances; returns its TH or TD cells (empty when the row is
    /// drawn as an artifact).
    fn table_row(
        &mut self,
        lines: &[Vec<String>],
        xs: &[f32],
        widths: &[f32],
        right: &[bool],
        kind: RowKind,
        artifact: Option<Mark>,
    ) -> Vec<Node> {
        let height = row_height(lines);
        let top = self.y;
        let header = kind == RowKind::Header;
        let weight = if kind == RowKind::Body {
            Weight::Regular
        } else {
            Weight::Bold
        };
        if header {
            self.push(Op::Rect {
                x: LEFT,
                y: top,
                w: CONTENT_WIDTH,
                h: height,
                grey: HEADER_FILL,
                mark: Mark::Artifact(ArtifactType::Layout),
            });
        }
        let face = self.face(weight);
        let mut cells = Vec::new();
        for (c, cell) in lines.iter().enumerate() {
            let mut leaves = Vec::new();
            for (i, line) in cell.iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let x = if right.get(c).copied().unwrap_or(false) {
                    xs[c] + widths[c] - CELL_PAD_X - face.width(line.trim_end(), TABLE_SIZE)
                } else {
                    xs[c] + CELL_PAD_X
                };
                let y = baseline(
                    top + CELL_PAD_Y + i as f32 * TABLE_LEADING,
                    TABLE_LEADING,
                    TABLE_SIZE,
                );
                match artifact {
                    Some(mark) => self.text_op(x, y, TABLE_SIZE, weight, BLACK, line, mark),
                    None => leaves.push(self.text(x, y, TABLE_SIZE, weight, BLACK, line)),
                }
            }
            let tag: TagKind = if header {
                Tag::TH(TableHeaderScope::Column).into()
            } else {
                Tag::TD.into()
            };
            cells.push(Node::Group(tag, leaves));
        }
        let (thickness, grey) = if header {
            (0.8, GREY)
        } else {
            (0.4, RULE_GREY)
        };
        self.rule(
            LEFT,
            top + height - thickness,
            CONTENT_WIDTH,
            thickness,
            grey,
        );
        self.y = top + height;
        if artifact.is_some() {
            Vec::new()
        } else {
            cells
        }
    }

    /// Columns get their natural width when the table fits; otherwise every column keeps room
    /// for its longest word and the rest is shared in proportion to what each would need.
    fn column_widths(&self, table: &Table) -> Vec<f32> {
        let columns = table.header.len();
        let mut natural = vec![0.0f32; columns];
        let mut minimal = vec![0.0f32; columns];
        let mut measure = |face: &Face, cells: &[String]| {
            for (c, text) in cells.iter().enumerate() {
                let full = text
                    .split('\n')
                    .map(|l| face.width(l, TABLE_SIZE))
                    .fold(0.0, f32::max);
                let word = text
                    .split_whitespace()
                    .map(|w| face.width(w, TABLE_SIZE))
                    .fold(0.0, f32::max);
                natural[c] = natural[c].max(full + 2.0 * CELL_PAD_X);
                minimal[c] = minimal[c].max(word + 2.0 * CELL_PAD_X);
            }
        };
        measure(self.face(Weight::Bold), &table.header);
        for row in &table.rows {
            measure(self.face(Weight::Regular), row);
        }
        for row in &table.totals {
            measure(self.face(Weight::Bold), row);
        }
        let natural_sum: f32 = natural.iter().sum();
        if natural_sum <= CONTENT_WIDTH {
            // Spread the spare width evenly so the table spans the text block like a form.
            let extra = (CONTENT_WIDTH - natural_sum) / columns as f32;
            return natural.iter().map(|w| w + extra).collect();
        }
        let minimal_sum: f32 = minimal.iter().sum();
        if minimal_sum >= CONTENT_WIDTH {
            return minimal
                .iter()
                .map(|w| w * CONTENT_WIDTH / minimal_sum)
                .collect();
        }
        // Water-filling: columns that need little more than their longest word (dates,
        // amounts) get all of it first; the wide text columns share what is left.
        let mut widths = minimal.clone();
        let mut spare = CONTENT_WIDTH - minimal_sum;
        let mut open: Vec<usize> = (0..columns).collect();
        while !open.is_empty() && spare > 0.0 {
            let share = spare / open.len() as f32;
            let (done, rest): (Vec<usize>, Vec<usize>) =
                open.iter().partition(|&&c| natural[c] - widths[c] <= share);
            if done.is_empty() {
                for &c in &rest {
                    widths[c] += share;
                }
                break;
            }
            for c in done {
                spare -= natural[c] - widths[c];
                widths[c] = natural[c];
            }
            open = rest;
        }
        widths
    }

    fn qr_code(&mut self, payload: &str, caption: &str, alt: &str) -> Result<(), PdfError> {
        let matrix = QrMatrix::encode(payload)?;
        let module = QR_SIDE / (matrix.width + 2 * QUIET_ZONE) as f32;
        let quiet = QUIET_ZONE as f32 * module;
        let symbol = matrix.width as f32 * module;
        let caption_left = LEFT + symbol + quiet + 2.0 * MM;
        let regular = self.face(Weight::Regular);
        let lines = wrap(regular, caption, BODY_SIZE, RIGHT - caption_left);
        // The quiet zone is blank paper, so it may reach into the left margin and the gap
        // above; below it must be kept free of the next block.
        let height = (symbol + quiet).max(lines.len() as f32 * BODY_LEADING);
        self.ensure(height);
        let top = self.y;
        let id = self.content_count;
        self.content_count += 1;
        self.push(Op::Qr {
            x: LEFT,
            y: top,
            module,
            matrix,
            mark: Mark::Content(id),
        });
        // A blank alternative text is passed on as none, so that krilla's PDF/UA check refuses
        // the document instead of shipping a code that a screen reader announces as nothing.
        let alt = Some(alt.trim())
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        self.tree
            .push(Node::Group(Tag::Figure(alt).into(), vec![Node::Leaf(id)]));
        let leaves = self.column(
            &lines,
            caption_left,
            top,
            BODY_LEADING,
            BODY_SIZE,
            Weight::Regular,
            BLACK,
        );
        if !leaves.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), leaves));
        }
        self.y = top + height + 4.0;
        self.fresh = false;
        Ok(())
    }

    fn signature(&mut self, lines: &[String]) {
        let regular = self.face(Weight::Regular);
        let lines = wrap_all(regular, lines, BODY_SIZE, CONTENT_WIDTH);
        let space_before = if self.fresh { 0.0 } else { 6.0 };
        self.ensure(space_before + lines.len() as f32 * BODY_LEADING);
        if !self.fresh {
            self.y += space_before;
        }
        let top = self.y;
        let leaves = self.column(
            &lines,
            LEFT,
            top,
            BODY_LEADING,
            BODY_SIZE,
            Weight::Regular,
            BLACK,
        );
        self.y = top + lines.len() as f32 * BODY_LEADING + 6.0;
        self.fresh = false;
        if !leaves.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), leaves));
        }
    }

    /// Footer text and page numbers on every page, once the page count is known. The footer is
    /// read once, on the first page; its repetitions are artifacts.
    fn footers(&mut self) {
        let lines = footer_lines(self.faces, self.doc);
        let count = self.pages.len();
        let regular = self.face(Weight::Regular);
        let number_baseline = PAGE_HEIGHT - 10.0 * MM;
        let footer_top = PAGE_HEIGHT - footer_height(self.faces, self.doc) + 4.0;
        let mut read_once = Vec::new();
        for page in 0..count {
            let mut page_ops = std::mem::take(&mut self.pages[page]);
            let mut push_text = |x, baseline, size, text: &str, mark| {
                page_ops.push(Op::Text {
                    x,
                    baseline,
                    size,
                    weight: Weight::Regular,
                    grey: GREY,
                    text: text.to_owned(),
                    mark,
                });
            };
            for (i, line) in lines.iter().enumerate() {
                let mark = if page == 0 {
                    let id = self.content_count;
                    self.content_count += 1;
                    read_once.push(Node::Leaf(id));
                    Mark::Content(id)
                } else {
                    Mark::Artifact(ArtifactType::Footer)
                };
                let y = baseline(
                    footer_top + i as f32 * FOOTER_LEADING,
                    FOOTER_LEADING,
                    FOOTER_SIZE,
                );
                push_text(LEFT, y, FOOTER_SIZE, line, mark);
            }
            let number = format!("Seite {} von {}", page + 1, count);
            let w = regular.width(&number, SMALL_SIZE);
            push_text(
                RIGHT - w,
                number_baseline,
                SMALL_SIZE,
                &number,
                Mark::Artifact(ArtifactType::PageNumber),
            );
            if !lines.is_empty() {
                page_ops.push(Op::Rect {
                    x: LEFT,
                    y: footer_top - 4.0,
                    w: CONTENT_WIDTH,
                    h: 0.5,
                    grey: RULE_GREY,
                    mark: Mark::Artifact(ArtifactType::Footer),
                });
            }
            self.pages[page] = page_ops;
        }
        if !read_once.is_empty() {
            self.tree.push(Node::Group(Tag::P.into(), read_once));
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    Header,
    Body,
    Total,
}

fn row_height(cells: &[Vec<String>]) -> f32 {
    let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
    lines as f32 * TABLE_LEADING + 2.0 * CELL_PAD_Y
}
