//! Writes laid-out pages with krilla, under its PDF/A-2a and PDF/UA-1 validators: a document
//! that breaks a rule they can check is refused instead of written.

use krilla::color::luma;
use krilla::configure::{Accessibility, Archival, ConfigurationBuilder, ValidationError};
use krilla::destination::XyzDestination;
use krilla::error::KrillaError;
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::tagging::{ContentTag, Identifier, Node as KrillaNode, SpanTag, TagGroup, TagTree};
use krilla::{Document as KrillaDocument, SerializeSettings};

use crate::fonts::Faces;
use crate::layout::{Laid, Mark, Node, Op, PAGE_HEIGHT, PAGE_WIDTH};
use crate::{Document, PdfError};

pub(crate) fn emit(doc: &Document, laid: Laid) -> Result<Vec<u8>, PdfError> {
    let faces = Faces::get()?;
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_A)
        .with_accessibility_validator(Accessibility::UA1)
        .finish()
        .map_err(|e| PdfError::Export(format!("{e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        enable_tagging: true,
        ..SerializeSettings::default()
    };
    let mut pdf = KrillaDocument::new_with(settings);
    let page_settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| PdfError::Export("page size".to_owned()))?;

    let mut ids: Vec<Option<Identifier>> = vec![None; laid.content_count];
    for ops in &laid.pages {
        let mut page = pdf.start_page_with(page_settings.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, faces, op, &mut ids);
        }
        surface.finish();
        page.finish();
    }

    let mut tree = TagTree::new().with_lang(Some(doc.lang.clone()));
    for node in laid.tree {
        if let Some(node) = to_krilla(node, &mut ids) {
            tree.push(node);
        }
    }
    pdf.set_tag_tree(tree);

    let mut outline = Outline::new();
    for entry in laid.outline {
        let dest = XyzDestination::new(entry.page, Point::from_xy(0.0, entry.y));
        outline.push_child(OutlineNode::new(entry.title, dest));
    }
    pdf.set_outline(outline);
    pdf.set_metadata(metadata(doc));

    pdf.finish().map_err(export_error)
}

fn metadata(doc: &Document) -> Metadata {
    let c = doc.created;
    let offset = c.offset();
    let created = DateTime::new(u16::try_from(c.year()).unwrap_or(0))
        .month(u8::from(c.month()))
        .day(c.day())
        .hour(c.hour())
        .minute(c.minute())
        .second(c.second())
        .utc_offset_hour(offset.whole_hours())
        .utc_offset_minute(offset.minutes_past_hour().unsigned_abs());
    let mut metadata = Metadata::new()
        .title(doc.title.clone())
        .language(doc.lang.clone())
        .creator("rathaus".to_owned())
        .creation_date(created);
    if !doc.letterhead.authority.is_empty() {
        metadata = metadata.authors(vec![doc.letterhead.authority.clone()]);
    }
    metadata
}

fn fill(surface: &mut Surface, grey: u8) {
    surface.set_fill(Some(Fill {
        paint: luma::Color::new(grey).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }));
}

fn draw(surface: &mut Surface, faces: &Faces, op: &Op, ids: &mut [Option<Identifier>]) {
    let mark = match op {
        Op::Text { mark, .. } | Op::Rect { mark, .. } | Op::Qr { mark, .. } => *mark,
        Op::Image { .. } => Mark::Artifact(krilla::tagging::ArtifactType::Layout),
    };
    let tag = match mark {
        Mark::Artifact(kind) => ContentTag::Artifact(krilla::tagging::Artifact::with_kind(kind)),
        Mark::Content(_) if matches!(op, Op::Text { .. }) => ContentTag::Span(SpanTag::empty()),
        Mark::Content(_) => ContentTag::Other,
    };
    let id = surface.start_tagged(tag);
    if let Mark::Content(i) = mark
        && let Some(slot) = ids.get_mut(i)
    {
        *slot = Some(id);
    }
    match op {
        Op::Text {
            x,
            baseline,
            size,
            weight,
            grey,
            text,
            ..
        } => {
            let face = faces.face(*weight);
            fill(surface, *grey);
            surface.draw_glyphs(
                Point::from_xy(*x, *baseline),
                &face.glyphs(text),
                face.font.clone(),
                text,
                *size,
                false,
            );
        }
        Op::Rect {
            x, y, w, h, grey, ..
        } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                fill(surface, *grey);
                surface.draw_path(&path);
            }
        }
        Op::Qr {
            x,
            y,
            module,
            matrix,
            ..
        } => {
            let mut path = PathBuilder::new();
            for (row, col, len) in matrix.dark_runs() {
                let rect = Rect::from_xywh(
                    x + col as f32 * module,
                    y + row as f32 * module,
                    len as f32 * module,
                    *module,
                );
                if let Some(rect) = rect {
                    path.push_rect(rect);
                }
            }
            if let Some(path) = path.finish() {
                fill(surface, 0);
                surface.draw_path(&path);
            }
        }
        Op::Image { x, y, w, h, image } => {
            if let Some(size) = Size::from_wh(*w, *h) {
                surface.push_transform(&krilla::geom::Transform::from_translate(*x, *y));
                surface.draw_image(image.clone(), size);
                surface.pop();
            }
        }
    }
    surface.end_tagged();
}

/// Groups left without content (an empty table cell) are kept: a table must keep its shape
/// for screen readers. Leaves whose content was never drawn cannot occur, but are skipped.
fn to_krilla(node: Node, ids: &mut [Option<Identifier>]) -> Option<KrillaNode> {
    match node {
        Node::Leaf(i) => ids.get_mut(i).and_then(Option::take).map(KrillaNode::Leaf),
        Node::Group(tag, children) => {
            let mut group = TagGroup::new(tag);
            for child in children {
                if let Some(child) = to_krilla(child, ids) {
                    group.push(child);
                }
            }
            Some(KrillaNode::Group(group))
        }
    }
}

fn export_error(err: KrillaError) -> PdfError {
    match err {
        KrillaError::Validation(errors) => {
            let names: Vec<String> = errors.iter().map(|(e, _)| variant_name(e)).collect();
            PdfError::Validation(names.join(", "))
        }
        other => PdfError::Export(first_word(&format!("{other:?}"))),
    }
}

/// The rule's name without its payload, which may quote document text.
fn variant_name(err: &ValidationError) -> String {
    first_word(&format!("{err:?}"))
}

fn first_word(debug: &str) -> String {
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}
