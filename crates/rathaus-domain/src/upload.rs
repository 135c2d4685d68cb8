//! Checking and cleaning the files citizens attach to an application: a photo of a pothole, a
//! scanned certificate as PDF.
//!
//! The type of a file is decided by its first bytes only. The file name and the Content-Type the
//! browser sends are chosen by the uploader and prove nothing; a clerk who opens a "photo" that is
//! really something else is exactly the attack this guards against.
//!
//! Images are stripped of metadata before they are stored: phones write the GPS position of the
//! shot, the camera's serial number and timestamps into every photo, and a case file must not carry
//! more personal data than the application needs (data minimisation, Art. 5(1)(c) GDPR). Only what
//! a viewer needs to show the picture correctly survives. Pixels are never decoded or re-encoded,
//! so the image itself stays byte for byte what the citizen took.
//!
//! Every error has an English `Display` for logs and a German [`message_de`](UploadError::message_de)
//! for the citizen. File sizes are shown in decimal units (1 MB = 1,000,000 bytes), the way file
//! managers on phones and macOS show them.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The file types the platform accepts. Service definitions name them by [`code`](FileKind::code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Pdf, FileKind::Jpeg, FileKind::Png];

    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
        }
    }

    /// The extension given to stored and downloaded files, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Jpeg => "jpg",
            FileKind::Png => "png",
        }
    }

    pub fn label_de(self) -> &'static str {
        match self {
            FileKind::Pdf => "PDF-Dokument",
            FileKind::Jpeg => "JPEG-Bild",
            FileKind::Png => "PNG-Bild",
        }
    }

    /// The name used in service definitions; the same string serde reads and writes.
    pub fn code(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Jpeg => "jpeg",
            FileKind::Png => "png",
        }
    }

    pub fn from_code(code: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Extensions a citizen's file name may already carry for this kind; all others get replaced.
    fn accepts_extension(self, ext: &str) -> bool {
        let names: &[&str] = match self {
            FileKind::Pdf => &["pdf"],
            FileKind::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            FileKind::Png => &["png"],
        };
        names.iter().any(|n| n.eq_ignore_ascii_case(ext))
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Pdf => "PDF",
            FileKind::Jpeg => "JPEG",
            FileKind::Png => "PNG",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has {size} bytes, the limit is {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("the file is neither a PDF, a JPEG nor a PNG file")]
    UnknownType,
    #[error("{found} files are not accepted here (allowed: {})", english_list(.allowed))]
    NotAllowed {
        found: FileKind,
        allowed: Vec<FileKind>,
    },
    #[error("the {kind} file is malformed: {reason}")]
    Malformed {
        kind: FileKind,
        reason: &'static str,
    },
}

impl UploadError {
    pub fn message_de(&self) -> String {
        match self {
            UploadError::Empty => "Die Datei ist leer. Bitte eine andere Datei auswählen.".into(),
            UploadError::TooLarge { size, max } => format!(
                "Die Datei ist {} groß; erlaubt sind höchstens {}.",
                format_size_de(*size, Rounding::Up),
                format_size_de(*max, Rounding::Down)
            ),
            UploadError::UnknownType => {
                "Dieses Dateiformat wird nicht unterstützt. Möglich sind nur PDF-Dokumente sowie JPEG- und PNG-Bilder."
                    .into()
            }
            UploadError::NotAllowed { found, allowed } if allowed.is_empty() => format!(
                "Die Datei ist ein {}. An dieser Stelle können keine Dateien hochgeladen werden.",
                found.label_de()
            ),
            UploadError::NotAllowed { found, allowed } => format!(
                "Die Datei ist ein {}. Bitte {} hochladen.",
                found.label_de(),
                german_alternatives(allowed)
            ),
            UploadError::Malformed { kind, .. } => format!(
                "Das {} ist beschädigt oder unvollständig. Bitte die Datei neu speichern oder eine andere Datei hochladen.",
                kind.label_de()
            ),
        }
    }
}

impl UploadError {
    /// The message for a citizen in their language; `allowed` are the kinds the field accepts,
    /// so that an unknown format is answered with what would have been right.
    pub fn message(&self, lang: crate::service::Lang, allowed: &[FileKind]) -> String {
        use crate::service::Lang;
        match (lang, self) {
            (Lang::En, UploadError::Empty) => {
                "The file is empty. Please choose another file.".into()
            }
            (Lang::En, UploadError::TooLarge { size, max }) => format!(
                "The file is {}; at most {} is allowed.",
                format_size_de(*size, Rounding::Up).replace(',', "."),
                format_size_de(*max, Rounding::Down).replace(',', ".")
            ),
            (Lang::En, UploadError::UnknownType) => {
                format!(
                    "This file format is not supported. Please upload {}.",
                    english_alternatives(allowed)
                )
            }
            (Lang::En, UploadError::NotAllowed { found, allowed }) => {
                format!(
                    "The file is a {found}. Please upload {}.",
                    english_alternatives(allowed)
                )
            }
            (Lang::En, UploadError::Malformed { kind, .. }) => {
                format!(
                    "The {kind} file is damaged or incomplete. Please save it again or upload another file."
                )
            }
            (_, UploadError::UnknownType) => {
                format!(
                    "Dieses Dateiformat wird hier nicht unterstützt. Bitte {} hochladen.",
                    german_alternatives(allowed)
                )
            }
            _ => self.message_de(),
        }
    }
}

fn english_alternatives(kinds: &[FileKind]) -> String {
    let names: Vec<String> = kinds.iter().map(|k| format!("a {k} file")).collect();
    match names.len() {
        0 => "no file here".into(),
        1 => names[0].clone(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

fn english_list(kinds: &[FileKind]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// "ein PDF-Dokument, ein JPEG-Bild oder ein PNG-Bild": every label is neuter, so "ein" always fits.
fn german_alternatives(kinds: &[FileKind]) -> String {
    let items: Vec<String> = kinds
        .iter()
        .map(|k| format!("ein {}", k.label_de()))
        .collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} oder {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[derive(Clone, Copy)]
enum Rounding {
    Up,
    Down,
}

/// One decimal place, German style ("12,4 MB"). The file's size rounds up and the limit rounds
/// down, so a file just over the limit never reads as "10 MB groß; erlaubt sind höchstens 10 MB".
fn format_size_de(bytes: u64, rounding: Rounding) -> String {
    if bytes == 1 {
        return "1 Byte".into();
    }
    if bytes < 1_000 {
        return format!("{bytes} Bytes");
    }
    let tenths = |unit: u64| match rounding {
        Rounding::Up => bytes.div_ceil(unit / 10),
        Rounding::Down => bytes / (unit / 10),
    };
    // Checked after rounding: 999,999 bytes rounded up must read "1 MB", not "1.000 kB".
    let (t, unit) = match tenths(1_000) {
        t if t < 10_000 => (t, "kB"),
        _ => (tenths(1_000_000), "MB"),
    };
    let whole = group_thousands_de(t / 10);
    match t % 10 {
        0 => format!("{whole} {unit}"),
        frac => format!("{whole},{frac} {unit}"),
    }
}

fn group_thousands_de(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The type of a file by its leading magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileKind::Jpeg)
    } else if bytes.starts_with(&PNG_SIGNATURE) {
        Some(FileKind::Png)
    } else {
        None
    }
}

/// Validates an upload end to end and returns its sniffed kind and the cleaned bytes.
///
/// The size limit applies to the file as uploaded, before metadata is removed: it protects what
/// has to be received and parsed, not what is stored.
pub fn check_upload(
    bytes: &[u8],
    allowed: &[FileKind],
    max_bytes: u64,
) -> Result<(FileKind, Vec<u8>), UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > max_bytes {
        return Err(UploadError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    let kind = sniff(bytes).ok_or(UploadError::UnknownType)?;
    if !allowed.contains(&kind) {
        // A service definition listing a type twice must not make the citizen's message say it twice.
        let mut unique: Vec<FileKind> = Vec::with_capacity(allowed.len());
        for k in allowed {
            if !unique.contains(k) {
                unique.push(*k);
            }
        }
        return Err(UploadError::NotAllowed {
            found: kind,
            allowed: unique,
        });
    }
    Ok((kind, sanitize(kind, bytes)?))
}

/// Checks that `bytes` is a well-formed file of `kind` and removes personal metadata.
///
/// * JPEG: EXIF and XMP (APP1), IPTC/Photoshop (APP13), all other application segments except
///   JFIF (APP0, minus its thumbnail), ICC profiles (APP2) and Adobe colour information (APP14),
///   and comments are removed. Anything after the end-of-image marker is cut off, because phones
///   append further images or whole videos there (MPF previews, Motion Photos).
/// * PNG: only the critical chunks and the ancillary chunks that affect rendering (`tRNS`, `gAMA`,
///   `cHRM`, `sRGB`, `iCCP`, `sBIT`, `pHYs`, `bKGD`) are kept; text, `eXIf`, `tIME`, animation and
///   unknown ancillary chunks are dropped, as is anything after `IEND`.
/// * PDF: only the header and the `%%EOF` trailer are checked and the file is returned
///   **unchanged**. Its document information and XMP metadata (author, software, dates) survive;
///   rewriting PDFs safely needs a full PDF parser and is out of scope here.
pub fn sanitize(kind: FileKind, bytes: &[u8]) -> Result<Vec<u8>, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    match kind {
        FileKind::Pdf => check_pdf(bytes).map(|()| bytes.to_vec()),
        FileKind::Jpeg => sanitize_jpeg(bytes),
        FileKind::Png => sanitize_png(bytes),
    }
}

fn malformed(kind: FileKind, reason: &'static str) -> UploadError {
    UploadError::Malformed { kind, reason }
}

// ---------------------------------------------------------------------------------------------
// PDF

/// How far from the end `%%EOF` may sit: writers append a newline or a few bytes of padding, and
/// 1024 is the window Acrobat itself searches.
const PDF_EOF_WINDOW: usize = 1024;

fn check_pdf(bytes: &[u8]) -> Result<(), UploadError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(malformed(FileKind::Pdf, "PDF header missing"));
    }
    let tail = &bytes[bytes.len().saturating_sub(PDF_EOF_WINDOW)..];
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err(malformed(
            FileKind::Pdf,
            "no %%EOF marker near the end (file truncated?)",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JPEG (ITU-T T.81 Annex B)

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

fn bad_jpeg(reason: &'static str) -> UploadError {
    malformed(FileKind::Jpeg, reason)
}

fn is_restart(marker: u8) -> bool {
    (0xD0..=0xD7).contains(&marker)
}

/// SOF0..SOF15 share C0..CF with DHT (C4), JPG (C8) and DAC (CC).
fn is_frame_header(marker: u8) -> bool {
    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// The marker at `pos` and the position just after it. Any number of 0xFF fill bytes may precede
/// a marker (T.81 B.1.1.2).
fn read_marker(bytes: &[u8], pos: usize) -> Result<(u8, usize), UploadError> {
    if bytes.get(pos) != Some(&0xFF) {
        return Err(match bytes.get(pos) {
            None => bad_jpeg("the file ends before the end-of-image marker"),
            Some(_) => bad_jpeg("expected a marker between segments"),
        });
    }
    let mut p = pos;
    while bytes.get(p) == Some(&0xFF) {
        p += 1;
    }
    match bytes.get(p) {
        None => Err(bad_jpeg("the file ends before the end-of-image marker")),
        Some(&0x00) => Err(bad_jpeg("expected a marker between segments")),
        Some(&marker) => Ok((marker, p + 1)),
    }
}

/// A length-prefixed segment starting at `pos` (just after its marker): its payload and the
/// position after it.
fn segment_at(bytes: &[u8], pos: usize) -> Result<(&[u8], usize), UploadError> {
    let len = match bytes.get(pos..pos + 2) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => return Err(bad_jpeg("a segment runs past the end of the file")),
    };
    if len < 2 {
        return Err(bad_jpeg("a segment has an invalid length"));
    }
    let end = pos + len;
    let payload = bytes
        .get(pos + 2..end)
        .ok_or(bad_jpeg("a segment runs past the end of the file"))?;
    Ok((payload, end))
}

/// The payload to write for a header segment, or `None` to drop it.
fn jpeg_segment_policy(marker: u8, payload: &[u8]) -> Option<Cow<'_, [u8]>> {
    match marker {
        APP0 => jfif_without_thumbnail(payload),
        APP2 if payload.starts_with(b"ICC_PROFILE\0") => Some(Cow::Borrowed(payload)),
        // Adobe's APP14 says whether the three channels are YCbCr or RGB; without it colours flip.
        APP14 if payload.starts_with(b"Adobe") => Some(Cow::Borrowed(payload)),
        // Everything else in APPn is somebody's metadata: EXIF/XMP (APP1), MPF (APP2), IPTC (APP13),
        // maker notes and vendor blobs.
        0xE0..=0xEF | COM => None,
        _ => Some(Cow::Borrowed(payload)),
    }
}

/// JFIF's fixed header is 14 bytes; what follows is an uncompressed thumbnail, which can show the
/// picture as it was before the citizen cropped it.
fn jfif_without_thumbnail(payload: &[u8]) -> Option<Cow<'_, [u8]>> {
    const HEADER: usize = 14;
    if !payload.starts_with(b"JFIF\0") || payload.len() < HEADER {
        return None;
    }
    if payload.len() == HEADER {
        return Some(Cow::Borrowed(payload));
    }
    let mut header = payload[..HEADER].to_vec();
    header[12] = 0;
    header[13] = 0;
    Some(Cow::Owned(header))
}

/// Entropy-coded data runs until the first marker that is neither a stuffed zero byte nor a
/// restart marker; returns the position of that marker's first 0xFF.
fn scan_end(bytes: &[u8], start: usize) -> Result<usize, UploadError> {
    let mut i = start;
    while let Some(offset) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
    {
        let ff = i + offset;
        let mut next = ff + 1;
        while bytes.get(next) == Some(&0xFF) {
            next += 1;
        }
        match bytes.get(next) {
            None => break,
            Some(&b) if b == 0x00 || is_restart(b) => i = next + 1,
            Some(_) => return Ok(ff),
        }
    }
    Err(bad_jpeg("the file ends inside the image data"))
}

fn check_scan_header(payload: &[u8]) -> Result<(), UploadError> {
    match payload.first() {
        Some(&n) if (1..=4).contains(&n) && payload.len() == 4 + 2 * usize::from(n) => Ok(()),
        _ => Err(bad_jpeg("invalid start-of-scan header")),
    }
}

fn sanitize_jpeg(bytes: &[u8]) -> Result<Vec<u8>, UploadError> {
    if !bytes.starts_with(&[0xFF, SOI]) {
        return Err(bad_jpeg("start-of-image marker missing"));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, SOI]);
    let mut pos = 2;
    let mut seen_frame = false;
    let mut seen_scan = false;
    loop {
        let (marker, after) = read_marker(bytes, pos)?;
        match marker {
            EOI if seen_scan => {
                out.extend_from_slice(&[0xFF, EOI]);
                return Ok(out);
            }
            EOI => return Err(bad_jpeg("no image data (start-of-scan marker missing)")),
            SOI => return Err(bad_jpeg("a second start-of-image marker")),
            TEM => {
                out.extend_from_slice(&[0xFF, TEM]);
                pos = after;
                continue;
            }
            m if is_restart(m) => return Err(bad_jpeg("restart marker outside image data")),
            0x02..=0xBF => return Err(bad_jpeg("reserved marker")),
            _ => {}
        }
        let (payload, end) = segment_at(bytes, after)?;
        if marker == SOS {
            if !seen_frame {
                return Err(bad_jpeg("image data before the frame header"));
            }
            check_scan_header(payload)?;
            let data_end = scan_end(bytes, end)?;
            out.extend_from_slice(&[0xFF, SOS]);
            out.extend_from_slice(&bytes[after..data_end]);
            seen_scan = true;
            pos = data_end;
            continue;
        }
        seen_frame |= is_frame_header(marker);
        if let Some(kept) = jpeg_segment_policy(marker, payload) {
            let len = u16::try_from(kept.len() + 2)
                .map_err(|_| bad_jpeg("a segment has an invalid length"))?;
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&kept);
        }
        pos = end;
    }
}

/// The EXIF orientation (1..=8) of a JPEG, read before [`sanitize`] drops the EXIF segment with
/// it. Viewers rotate the picture by this tag; the caller records it and passes it on when showing
/// the image (e.g. as CSS `image-orientation`). `None` if absent, unreadable or out of range.
pub fn jpeg_exif_orientation(bytes: &[u8]) -> Option<u16> {
    if !bytes.starts_with(&[0xFF, SOI]) {
        return None;
    }
    let mut pos = 2;
    loop {
        let (marker, after) = read_marker(bytes, pos).ok()?;
        match marker {
            SOS | EOI => return None,
            m if m == TEM || is_restart(m) => {
                pos = after;
                continue;
            }
            _ => {}
        }
        let (payload, end) = segment_at(bytes, after).ok()?;
        if marker == APP1 {
            // XMP also lives in APP1, so a non-EXIF APP1 is no reason to stop looking.
            if let Some(tiff) = payload.strip_prefix(b"Exif\0\0") {
                return tiff_orientation(tiff);
            }
        }
        pos = end;
    }
}

fn tiff_orientation(tiff: &[u8]) -> Option<u16> {
    const ORIENTATION: u16 = 0x0112;
    const SHORT: u16 = 3;
    let big_endian = match tiff.get(..4)? {
        b"II*\0" => false,
        b"MM\0*" => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd0 = usize::try_from(u32_at(4)?).ok()?;
    let entries = u16_at(ifd0)?;
    for i in 0..usize::from(entries) {
        let entry = ifd0.checked_add(2 + 12 * i)?;
        if u16_at(entry)? != ORIENTATION {
            continue;
        }
        if u16_at(entry + 2)? != SHORT || u32_at(entry + 4)? != 1 {
            return None;
        }
        // A single SHORT sits in the first two bytes of the 4-byte value field in either byte order.
        let value = u16_at(entry + 8)?;
        return (1..=8).contains(&value).then_some(value);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// PNG (ISO/IEC 15948)

/// Chunks that change how the image looks. Critical chunks other than these four are unknown
/// extensions (e.g. Apple's `CgBI`) that change how IDAT must be decoded, so they are rejected
/// rather than silently dropped.
const PNG_KEPT_CHUNKS: [&[u8; 4]; 12] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"pHYs", b"bKGD",
];

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 as used by PNG, zlib and Ethernet (reflected polynomial 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

fn bad_png(reason: &'static str) -> UploadError {
    malformed(FileKind::Png, reason)
}

fn sanitize_png(bytes: &[u8]) -> Result<Vec<u8>, UploadError> {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(bad_png("PNG signature missing"));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&PNG_SIGNATURE);
    let mut pos = PNG_SIGNATURE.len();
    let mut first = true;
    let mut seen_idat = false;
    loop {
        let (len, chunk_type) = match bytes.get(pos..pos + 8) {
            Some(&[l0, l1, l2, l3, t0, t1, t2, t3]) => {
                (u32::from_be_bytes([l0, l1, l2, l3]), [t0, t1, t2, t3])
            }
            _ => return Err(bad_png("the file ends before the IEND chunk")),
        };
        if len > 0x7FFF_FFFF {
            return Err(bad_png("a chunk length is out of range"));
        }
        if !chunk_type.iter().all(u8::is_ascii_alphabetic) {
            return Err(bad_png("invalid chunk type"));
        }
        let data_len =
            usize::try_from(len).map_err(|_| bad_png("a chunk length is out of range"))?;
        let chunk = pos
            .checked_add(12 + data_len)
            .and_then(|end| bytes.get(pos..end))
            .ok_or(bad_png("a chunk runs past the end of the file"))?;
        let (checked, crc) = chunk[4..].split_at(4 + data_len);
        if crc != crc32(checked).to_be_bytes() {
            return Err(bad_png("a chunk checksum (CRC) is wrong"));
        }
        let data = &checked[4..];
        match &chunk_type {
            b"IHDR" if first => check_ihdr(data)?,
            _ if first => return Err(bad_png("the first chunk is not IHDR")),
            b"IHDR" => return Err(bad_png("a second IHDR chunk")),
            b"IDAT" => seen_idat = true,
            b"IEND" if !seen_idat => return Err(bad_png("no image data (IDAT chunk missing)")),
            b"IEND" if !data.is_empty() => return Err(bad_png("IEND chunk is not empty")),
            b"IEND" => {
                out.extend_from_slice(chunk);
                return Ok(out);
            }
            _ => {}
        }
        first = false;
        if PNG_KEPT_CHUNKS.contains(&&chunk_type) {
            out.extend_from_slice(chunk);
        } else if chunk_type[0].is_ascii_uppercase() {
            return Err(bad_png("unknown critical chunk"));
        }
        pos += chunk.len();
    }
}

fn check_ihdr(data: &[u8]) -> Result<(), UploadError> {
    match data {
        [w0, w1, w2, w3, h0, h1, h2, h3, ..]
            if data.len() == 13
                && u32::from_be_bytes([*w0, *w1, *w2, *w3]) != 0
                && u32::from_be_bytes([*h0, *h1, *h2, *h3]) != 0 =>
        {
            Ok(())
        }
        _ => Err(bad_png("invalid IHDR chunk")),
    }
}

// ---------------------------------------------------------------------------------------------
// File names

const MAX_NAME_CHARS: usize = 100;
const FALLBACK_STEM: &str = "datei";

/// Letters of the Latin alphabet including umlauts, ß and the accented letters of European names
/// (Latin-1 and Latin Extended-A), so "Çelik" and "Łukasz" keep their names. Other scripts are
/// replaced: they carry homoglyphs of ASCII letters and many archive systems choke on them.
fn is_name_letter(c: char) -> bool {
    c.is_ascii_alphanumeric() || (matches!(c, '\u{C0}'..='\u{17F}' | 'ẞ') && c != '×' && c != '÷')
}

/// macOS hands over "ä" as "a" plus a combining diaeresis; composing keeps the umlaut instead of
/// turning it into "a_".
fn compose_umlaut(base: char) -> Option<char> {
    Some(match base {
        'a' => 'ä',
        'o' => 'ö',
        'u' => 'ü',
        'A' => 'Ä',
        'O' => 'Ö',
        'U' => 'Ü',
        _ => return None,
    })
}

/// Short, alphanumeric and with a letter: "pdf", "JPG", "docx" are extensions, the "03" of
/// "Foto vom 12.03" and the "final" of "Bericht v1.final" are part of the name.
fn is_extension(s: &str) -> bool {
    (1..=4).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Splits a cleaned base name into stem and extension.
fn clean_name(original: &str) -> (String, Option<String>) {
    let base = original.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned = String::with_capacity(base.len());
    let mut chars = base.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match compose_umlaut(c) {
            Some(umlaut) if chars.peek() == Some(&'\u{308}') => {
                chars.next();
                umlaut
            }
            _ => c,
        };
        let mapped = if is_name_letter(c) || matches!(c, ' ' | '.' | '-' | '_' | '(' | ')') {
            c
        } else if c.is_whitespace() && !c.is_control() {
            ' '
        } else {
            '_'
        };
        if matches!(mapped, '_' | ' ') && cleaned.ends_with(mapped) {
            continue;
        }
        cleaned.push(mapped);
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if is_extension(ext) => (stem, Some(ext.to_owned())),
        _ => (cleaned.as_str(), None),
    };
    // Leading dots hide files on Unix, a leading dash reads as an option to command-line tools, and
    // Windows silently drops trailing dots and spaces.
    let stem = stem
        .trim_start_matches(['.', ' ', '-'])
        .trim_end_matches(['.', ' ']);
    (stem.to_owned(), ext)
}

/// Device names that Windows refuses as file names whatever their extension; clerks download
/// attachments onto Windows desktops.
fn is_windows_reserved(stem: &str) -> bool {
    let device = stem.split('.').next().unwrap_or_default().trim_end();
    let upper = device.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit())
}

fn join_name(stem: &str, ext: Option<&str>) -> String {
    // A stem of nothing but replacement characters ("Фото" becomes "_") names nothing.
    let stem = if stem.chars().any(is_name_letter) {
        stem
    } else {
        FALLBACK_STEM
    };
    let mut name = String::new();
    if is_windows_reserved(stem) {
        name.push('_');
    }
    let ext_chars = ext.map_or(0, |e| e.chars().count() + 1);
    let budget = MAX_NAME_CHARS.saturating_sub(ext_chars + name.len());
    name.extend(stem.chars().take(budget));
    // Cutting the stem can leave a dot or space at its end.
    name.truncate(name.trim_end_matches(['.', ' ']).len());
    if name.is_empty() {
        name.push_str(FALLBACK_STEM);
    }
    if let Some(ext) = ext {
        name.push('.');
        name.push_str(ext);
    }
    name
}

/// A file name that is safe to store, put in a `Content-Disposition` header and save on any
/// desktop: base name only, no control or special characters, at most 100 characters, never empty.
pub fn safe_filename(original: &str) -> String {
    let (stem, ext) = clean_name(original);
    join_name(&stem, ext.as_deref())
}

/// [`safe_filename`] with an extension that matches the sniffed `kind`: a fitting extension is
/// kept as the citizen wrote it ("Foto 1.JPG"), a wrong one is replaced, a missing one is added.
pub fn display_name(original: &str, kind: FileKind) -> String {
    let (stem, ext) = clean_name(original);
    match ext {
        Some(ext) if kind.accepts_extension(&ext) => join_name(&stem, Some(&ext)),
        _ => join_name(&stem, Some(kind.extension())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Written by Pillow 13: an 8x8 baseline JPEG as a phone would save it, with EXIF (big-endian;
    // make, model, serial number, dates, orientation 6, GPS position), XMP with a GPS position, an
    // sRGB ICC profile and a comment. Layout: APP0 APP1(Exif) APP1(XMP) APP2(ICC) COM DQT DQT SOF0
    // DHT*4 SOS <scan> EOI.
    const PHONE_JPEG: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xe1, 0x01, 0x26, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00,
        0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x01, 0x0f, 0x00, 0x02, 0x00,
        0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x56, 0x01, 0x10, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08,
        0x00, 0x00, 0x00, 0x5e, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00,
        0x00, 0x01, 0x32, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x66, 0x87, 0x69,
        0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x7a, 0x88, 0x25, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x47, 0x6f, 0x6f, 0x67,
        0x6c, 0x65, 0x00, 0x00, 0x50, 0x69, 0x78, 0x65, 0x6c, 0x20, 0x37, 0x00, 0x32, 0x30, 0x32,
        0x34, 0x3a, 0x30, 0x35, 0x3a, 0x31, 0x37, 0x20, 0x30, 0x39, 0x3a, 0x34, 0x31, 0x3a, 0x30,
        0x30, 0x00, 0x00, 0x02, 0x90, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
        0x98, 0xa4, 0x31, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0xac, 0x00, 0x00,
        0x00, 0x00, 0x32, 0x30, 0x32, 0x34, 0x3a, 0x30, 0x35, 0x3a, 0x31, 0x37, 0x20, 0x30, 0x39,
        0x3a, 0x34, 0x31, 0x3a, 0x30, 0x30, 0x00, 0x53, 0x4e, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
        0x37, 0x38, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x4e,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0xee,
        0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x45, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00,
        0x01, 0xff, 0xe1, 0x00, 0xf3, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x6e, 0x73, 0x2e,
        0x61, 0x64, 0x6f, 0x62, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x78, 0x61, 0x70, 0x2f, 0x31,
        0x2e, 0x30, 0x2f, 0x00, 0x3c, 0x78, 0x3a, 0x78, 0x6d, 0x70, 0x6d, 0x65, 0x74, 0x61, 0x20,
        0x78, 0x6d, 0x6c, 0x6e, 0x73, 0x3a, 0x78, 0x3d, 0x22, 0x61, 0x64, 0x6f, 0x62, 0x65, 0x3a,
        0x6e, 0x73, 0x3a, 0x6d, 0x65, 0x74, 0x61, 0x2f, 0x22, 0x3e, 0x3c, 0x72, 0x64, 0x66, 0x3a,
        0x52, 0x44, 0x46, 0x20, 0x78, 0x6d, 0x6c, 0x6e, 0x73, 0x3a, 0x72, 0x64, 0x66, 0x3d, 0x22,
        0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x77, 0x77, 0x77, 0x2e, 0x77, 0x33, 0x2e, 0x6f,
        0x72, 0x67, 0x2f, 0x31, 0x39, 0x39, 0x39, 0x2f, 0x30, 0x32, 0x2f, 0x32, 0x32, 0x2d, 0x72,
        0x64, 0x66, 0x2d, 0x73, 0x79, 0x6e, 0x74, 0x61, 0x78, 0x2d, 0x6e, 0x73, 0x23, 0x22, 0x3e,
        0x3c, 0x72, 0x64, 0x66, 0x3a, 0x44, 0x65, 0x73, 0x63, 0x72, 0x69, 0x70, 0x74, 0x69, 0x6f,
        0x6e, 0x20, 0x78, 0x6d, 0x6c, 0x6e, 0x73, 0x3a, 0x65, 0x78, 0x69, 0x66, 0x3d, 0x22, 0x68,
        0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x6e, 0x73, 0x2e, 0x61, 0x64, 0x6f, 0x62, 0x65, 0x2e,
        0x63, 0x6f, 0x6d, 0x2f, 0x65, 0x78, 0x69, 0x66, 0x2f, 0x31, 0x2e, 0x30, 0x2f, 0x22, 0x20,
        0x65, 0x78, 0x69, 0x66, 0x3a, 0x47, 0x50, 0x53, 0x4c, 0x61, 0x74, 0x69, 0x74, 0x75, 0x64,
        0x65, 0x3d, 0x22, 0x35, 0x32, 0x2c, 0x33, 0x31, 0x2e, 0x32, 0x4e, 0x22, 0x2f, 0x3e, 0x3c,
        0x2f, 0x72, 0x64, 0x66, 0x3a, 0x52, 0x44, 0x46, 0x3e, 0x3c, 0x2f, 0x78, 0x3a, 0x78, 0x6d,
        0x70, 0x6d, 0x65, 0x74, 0x61, 0x3e, 0xff, 0xe2, 0x02, 0x5c, 0x49, 0x43, 0x43, 0x5f, 0x50,
        0x52, 0x4f, 0x46, 0x49, 0x4c, 0x45, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02, 0x4c, 0x6c, 0x63,
        0x6d, 0x73, 0x04, 0x40, 0x00, 0x00, 0x6d, 0x6e, 0x74, 0x72, 0x52, 0x47, 0x42, 0x20, 0x58,
        0x59, 0x5a, 0x20, 0x07, 0xea, 0x00, 0x0b, 0x00, 0x1b, 0x00, 0x07, 0x00, 0x33, 0x00, 0x39,
        0x61, 0x63, 0x73, 0x70, 0x41, 0x50, 0x50, 0x4c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xf6, 0xd6, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xd3, 0x2d, 0x6c,
        0x63, 0x6d, 0x73, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x64, 0x65, 0x73, 0x63, 0x00, 0x00, 0x01, 0x08, 0x00,
        0x00, 0x00, 0x36, 0x63, 0x70, 0x72, 0x74, 0x00, 0x00, 0x01, 0x40, 0x00, 0x00, 0x00, 0x4c,
        0x77, 0x74, 0x70, 0x74, 0x00, 0x00, 0x01, 0x8c, 0x00, 0x00, 0x00, 0x14, 0x63, 0x68, 0x61,
        0x64, 0x00, 0x00, 0x01, 0xa0, 0x00, 0x00, 0x00, 0x2c, 0x72, 0x58, 0x59, 0x5a, 0x00, 0x00,
        0x01, 0xcc, 0x00, 0x00, 0x00, 0x14, 0x62, 0x58, 0x59, 0x5a, 0x00, 0x00, 0x01, 0xe0, 0x00,
        0x00, 0x00, 0x14, 0x67, 0x58, 0x59, 0x5a, 0x00, 0x00, 0x01, 0xf4, 0x00, 0x00, 0x00, 0x14,
        0x72, 0x54, 0x52, 0x43, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x20, 0x67, 0x54, 0x52,
        0x43, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x20, 0x62, 0x54, 0x52, 0x43, 0x00, 0x00,
        0x02, 0x08, 0x00, 0x00, 0x00, 0x20, 0x63, 0x68, 0x72, 0x6d, 0x00, 0x00, 0x02, 0x28, 0x00,
        0x00, 0x00, 0x24, 0x6d, 0x6c, 0x75, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x0c, 0x65, 0x6e, 0x55, 0x53, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00,
        0x1c, 0x00, 0x73, 0x00, 0x52, 0x00, 0x47, 0x00, 0x42, 0x00, 0x20, 0x00, 0x62, 0x00, 0x75,
        0x00, 0x69, 0x00, 0x6c, 0x00, 0x74, 0x00, 0x2d, 0x00, 0x69, 0x00, 0x6e, 0x00, 0x00, 0x6d,
        0x6c, 0x75, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0c,
        0x65, 0x6e, 0x55, 0x53, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x4e, 0x00,
        0x6f, 0x00, 0x20, 0x00, 0x63, 0x00, 0x6f, 0x00, 0x70, 0x00, 0x79, 0x00, 0x72, 0x00, 0x69,
        0x00, 0x67, 0x00, 0x68, 0x00, 0x74, 0x00, 0x2c, 0x00, 0x20, 0x00, 0x75, 0x00, 0x73, 0x00,
        0x65, 0x00, 0x20, 0x00, 0x66, 0x00, 0x72, 0x00, 0x65, 0x00, 0x65, 0x00, 0x6c, 0x00, 0x79,
        0x58, 0x59, 0x5a, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf6, 0xd6, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0xd3, 0x2d, 0x73, 0x66, 0x33, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x0c, 0x42, 0x00, 0x00, 0x05, 0xde, 0xff, 0xff, 0xf3, 0x25, 0x00, 0x00, 0x07, 0x93, 0x00,
        0x00, 0xfd, 0x90, 0xff, 0xff, 0xfb, 0xa1, 0xff, 0xff, 0xfd, 0xa2, 0x00, 0x00, 0x03, 0xdc,
        0x00, 0x00, 0xc0, 0x6e, 0x58, 0x59, 0x5a, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6f,
        0xa0, 0x00, 0x00, 0x38, 0xf5, 0x00, 0x00, 0x03, 0x90, 0x58, 0x59, 0x5a, 0x20, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x24, 0x9f, 0x00, 0x00, 0x0f, 0x84, 0x00, 0x00, 0xb6, 0xc3, 0x58,
        0x59, 0x5a, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x62, 0x97, 0x00, 0x00, 0xb7, 0x87,
        0x00, 0x00, 0x18, 0xd9, 0x70, 0x61, 0x72, 0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
        0x00, 0x00, 0x02, 0x66, 0x66, 0x00, 0x00, 0xf2, 0xa7, 0x00, 0x00, 0x0d, 0x59, 0x00, 0x00,
        0x13, 0xd0, 0x00, 0x00, 0x0a, 0x5b, 0x63, 0x68, 0x72, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x00, 0x00, 0xa3, 0xd7, 0x00, 0x00, 0x54, 0x7b, 0x00, 0x00, 0x4c, 0xcd,
        0x00, 0x00, 0x99, 0x9a, 0x00, 0x00, 0x26, 0x66, 0x00, 0x00, 0x0f, 0x5c, 0xff, 0xfe, 0x00,
        0x10, 0x55, 0x72, 0x6c, 0x61, 0x75, 0x62, 0x20, 0x62, 0x65, 0x69, 0x20, 0x4f, 0x6d, 0x61,
        0xff, 0xdb, 0x00, 0x43, 0x00, 0x14, 0x0e, 0x0f, 0x12, 0x0f, 0x0d, 0x14, 0x12, 0x10, 0x12,
        0x17, 0x15, 0x14, 0x18, 0x1e, 0x32, 0x21, 0x1e, 0x1c, 0x1c, 0x1e, 0x3d, 0x2c, 0x2e, 0x24,
        0x32, 0x49, 0x40, 0x4c, 0x4b, 0x47, 0x40, 0x46, 0x45, 0x50, 0x5a, 0x73, 0x62, 0x50, 0x55,
        0x6d, 0x56, 0x45, 0x46, 0x64, 0x88, 0x65, 0x6d, 0x77, 0x7b, 0x81, 0x82, 0x81, 0x4e, 0x60,
        0x8d, 0x97, 0x8c, 0x7d, 0x96, 0x73, 0x7e, 0x81, 0x7c, 0xff, 0xdb, 0x00, 0x43, 0x01, 0x15,
        0x17, 0x17, 0x1e, 0x1a, 0x1e, 0x3b, 0x21, 0x21, 0x3b, 0x7c, 0x53, 0x46, 0x53, 0x7c, 0x7c,
        0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c,
        0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c,
        0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c, 0x7c,
        0x7c, 0x7c, 0x7c, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x08, 0x00, 0x08, 0x03, 0x01, 0x22,
        0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x00, 0x1f, 0x00, 0x00, 0x01, 0x05,
        0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x10,
        0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00, 0x01,
        0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
        0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15,
        0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a,
        0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
        0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5,
        0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2,
        0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xc4,
        0x00, 0x1f, 0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
        0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x11, 0x00, 0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07,
        0x05, 0x04, 0x04, 0x00, 0x01, 0x02, 0x77, 0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21,
        0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42,
        0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16,
        0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35,
        0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54,
        0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73,
        0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
        0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
        0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9,
        0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
        0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11,
        0x00, 0x3f, 0x00, 0xc5, 0x86, 0xd3, 0xda, 0x8a, 0x28, 0xae, 0x99, 0x4e, 0x57, 0x15, 0x1a,
        0x92, 0xe5, 0x3f, 0xff, 0xd9,
    ];

    // Written by Pillow 13: an 8x8 greyscale progressive JPEG without metadata, six scans.
    const PROGRESSIVE_JPEG: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x14, 0x0e, 0x0f, 0x12, 0x0f,
        0x0d, 0x14, 0x12, 0x10, 0x12, 0x17, 0x15, 0x14, 0x18, 0x1e, 0x32, 0x21, 0x1e, 0x1c, 0x1c,
        0x1e, 0x3d, 0x2c, 0x2e, 0x24, 0x32, 0x49, 0x40, 0x4c, 0x4b, 0x47, 0x40, 0x46, 0x45, 0x50,
        0x5a, 0x73, 0x62, 0x50, 0x55, 0x6d, 0x56, 0x45, 0x46, 0x64, 0x88, 0x65, 0x6d, 0x77, 0x7b,
        0x81, 0x82, 0x81, 0x4e, 0x60, 0x8d, 0x97, 0x8c, 0x7d, 0x96, 0x73, 0x7e, 0x81, 0x7c, 0xff,
        0xc2, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00,
        0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x04, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x17,
        0xff, 0xc4, 0x00, 0x16, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01,
        0x00, 0x01, 0x05, 0x02, 0x52, 0x7f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda,
        0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x3f, 0x02, 0x7f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3f, 0x21, 0x7f, 0xff, 0xda, 0x00,
        0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x10, 0x7f, 0xff, 0xc4, 0x00, 0x15, 0x10, 0x01, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x61, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3f, 0x10, 0x8b, 0xff, 0xd9,
    ];

    // Written by Pillow 13: a 4x4 RGBA PNG with IHDR tEXt iTXt zTXt tIME gAMA prVt pHYs eXIf IDAT
    // IEND; the text chunks name an author and a place.
    const META_PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x06, 0x00, 0x00, 0x00, 0xa9,
        0xf1, 0x9e, 0x7e, 0x00, 0x00, 0x00, 0x17, 0x74, 0x45, 0x58, 0x74, 0x41, 0x75, 0x74, 0x68,
        0x6f, 0x72, 0x00, 0x45, 0x72, 0x69, 0x6b, 0x61, 0x20, 0x4d, 0x75, 0x73, 0x74, 0x65, 0x72,
        0x6d, 0x61, 0x6e, 0x6e, 0x84, 0xfb, 0x9d, 0xbf, 0x00, 0x00, 0x00, 0x27, 0x69, 0x54, 0x58,
        0x74, 0x43, 0x6f, 0x6d, 0x6d, 0x65, 0x6e, 0x74, 0x00, 0x00, 0x00, 0x64, 0x65, 0x00, 0x00,
        0x53, 0x63, 0x68, 0x6c, 0x61, 0x67, 0x6c, 0x6f, 0x63, 0x68, 0x20, 0x76, 0x6f, 0x72, 0x20,
        0x48, 0x61, 0x75, 0x73, 0x20, 0x4e, 0x72, 0x2e, 0x20, 0x35, 0x74, 0x8f, 0x99, 0x09, 0x00,
        0x00, 0x00, 0x17, 0x7a, 0x54, 0x58, 0x74, 0x53, 0x6f, 0x66, 0x74, 0x77, 0x61, 0x72, 0x65,
        0x00, 0x00, 0x78, 0x9c, 0xf3, 0x48, 0xcc, 0x4b, 0xa9, 0x04, 0x00, 0x05, 0x7c, 0x01, 0xf5,
        0xf8, 0x71, 0x86, 0xee, 0x00, 0x00, 0x00, 0x07, 0x74, 0x49, 0x4d, 0x45, 0x07, 0xe8, 0x05,
        0x11, 0x09, 0x29, 0x00, 0x5d, 0x11, 0x28, 0xa1, 0x00, 0x00, 0x00, 0x04, 0x67, 0x41, 0x4d,
        0x41, 0x00, 0x00, 0xb1, 0x8f, 0x0b, 0xfc, 0x61, 0x05, 0x00, 0x00, 0x00, 0x17, 0x70, 0x72,
        0x56, 0x74, 0x70, 0x72, 0x69, 0x76, 0x61, 0x74, 0x65, 0x20, 0x61, 0x6e, 0x63, 0x69, 0x6c,
        0x6c, 0x61, 0x72, 0x79, 0x20, 0x63, 0x68, 0x75, 0x6e, 0x6b, 0xf4, 0x85, 0xbb, 0xc5, 0x00,
        0x00, 0x00, 0x09, 0x70, 0x48, 0x59, 0x73, 0x00, 0x00, 0x0b, 0x13, 0x00, 0x00, 0x0b, 0x13,
        0x01, 0x00, 0x9a, 0x9c, 0x18, 0x00, 0x00, 0x00, 0x22, 0x65, 0x58, 0x49, 0x66, 0x4d, 0x4d,
        0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x01, 0x0f, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x07, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x47, 0x6f, 0x6f, 0x67, 0x6c, 0x65,
        0x00, 0x00, 0x42, 0x9c, 0xfe, 0x8e, 0x00, 0x00, 0x00, 0x1a, 0x49, 0x44, 0x41, 0x54, 0x78,
        0x9c, 0x63, 0x64, 0x60, 0x68, 0xf8, 0x2f, 0xc0, 0xc0, 0xc0, 0x00, 0xc3, 0x2c, 0x0c, 0x02,
        0x0c, 0x28, 0x80, 0xb0, 0x00, 0x00, 0x73, 0x70, 0x01, 0xed, 0x74, 0x17, 0xe8, 0x0b, 0x00,
        0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];

    fn seg(marker: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len() + 2).unwrap();
        [&[0xFF, marker][..], &len.to_be_bytes(), payload].concat()
    }

    /// Inserts segments right after the 18-byte JFIF APP0 that Pillow writes first.
    fn after_app0(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
        assert_eq!(&jpeg[..6], &[0xFF, SOI, 0xFF, APP0, 0x00, 0x10]);
        let mut out = jpeg[..20].to_vec();
        for s in segments {
            out.extend_from_slice(s);
        }
        out.extend_from_slice(&jpeg[20..]);
        out
    }

    /// (marker, offset of the marker, payload) of every segment up to EOI.
    fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, usize, Vec<u8>)> {
        let mut pos = 2;
        let mut out = Vec::new();
        loop {
            let (marker, after) = read_marker(jpeg, pos).unwrap();
            if marker == EOI {
                return out;
            }
            let (payload, end) = segment_at(jpeg, after).unwrap();
            out.push((marker, pos, payload.to_vec()));
            pos = if marker == SOS {
                scan_end(jpeg, end).unwrap()
            } else {
                end
            };
        }
    }

    fn markers(jpeg: &[u8]) -> Vec<u8> {
        jpeg_segments(jpeg).iter().map(|(m, _, _)| *m).collect()
    }

    /// The compressed picture: everything from the first SOS on.
    fn image_data(jpeg: &[u8]) -> &[u8] {
        let (_, offset, _) = jpeg_segments(jpeg)
            .into_iter()
            .find(|(m, _, _)| *m == SOS)
            .unwrap();
        &jpeg[offset..]
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// An EXIF payload with ImageWidth, Orientation and a GPS IFD holding a latitude reference.
    fn exif_payload(big_endian: bool, orientation: u16) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut t = Vec::new();
        t.extend_from_slice(if big_endian { b"MM\0*" } else { b"II*\0" });
        t.extend(u32b(8));
        t.extend(u16b(3));
        for (tag, typ, value) in [(0x0100, 3, 8), (0x0112, 3, orientation)] {
            t.extend(u16b(tag));
            t.extend(u16b(typ));
            t.extend(u32b(1));
            t.extend(u16b(value));
            t.extend([0, 0]);
        }
        let gps_ifd = 8 + 2 + 3 * 12 + 4;
        t.extend(u16b(0x8825));
        t.extend(u16b(4));
        t.extend(u32b(1));
        t.extend(u32b(gps_ifd));
        t.extend(u32b(0));
        t.extend(u16b(1));
        t.extend(u16b(1)); // GPSLatitudeRef
        t.extend(u16b(2)); // ASCII
        t.extend(u32b(2));
        t.extend_from_slice(b"N\0\0\0");
        t.extend(u32b(0));
        [b"Exif\0\0".as_slice(), &t].concat()
    }

    fn png_chunk(chunk_type: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let len = u32::try_from(data.len()).unwrap();
        let crc = crc32(&[chunk_type.as_slice(), data].concat());
        [&len.to_be_bytes()[..], chunk_type, data, &crc.to_be_bytes()].concat()
    }

    /// Chunk types in file order; panics on a bad CRC so tests see broken output at once.
    fn png_chunks(png: &[u8]) -> Vec<[u8; 4]> {
        let mut pos = 8;
        let mut out = Vec::new();
        while pos < png.len() {
            let len =
                usize::try_from(u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap())).unwrap();
            let typ: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&png[pos + 4..pos + 8 + len]), "CRC of {typ:?}");
            out.push(typ);
            pos += 12 + len;
        }
        out
    }

    fn reason(result: Result<Vec<u8>, UploadError>) -> &'static str {
        match result {
            Err(UploadError::Malformed { reason, .. }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn sniff_reads_magic_bytes_only() {
        assert_eq!(sniff(PHONE_JPEG), Some(FileKind::Jpeg));
        assert_eq!(sniff(META_PNG), Some(FileKind::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"%PD"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b" %PDF-1.7"), None);
        assert_eq!(sniff(&PNG_SIGNATURE[..7]), None);
    }

    #[test]
    fn file_kind_codes_and_labels() {
        for kind in FileKind::ALL {
            assert_eq!(FileKind::from_code(kind.code()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.code()));
            assert_eq!(serde_json::from_str::<FileKind>(&json).unwrap(), kind);
        }
        assert_eq!(FileKind::from_code("jpg"), None);
        assert_eq!(FileKind::from_code("gif"), None);
        assert_eq!(FileKind::Jpeg.mime(), "image/jpeg");
        assert_eq!(FileKind::Pdf.mime(), "application/pdf");
        assert_eq!(FileKind::Png.extension(), "png");
        assert_eq!(FileKind::Jpeg.extension(), "jpg");
        assert_eq!(FileKind::Pdf.label_de(), "PDF-Dokument");
        assert_eq!(FileKind::Jpeg.label_de(), "JPEG-Bild");
        assert_eq!(FileKind::Png.label_de(), "PNG-Bild");
    }

    #[test]
    fn jpeg_metadata_is_removed_and_image_data_kept() {
        assert_eq!(
            markers(PHONE_JPEG),
            [
                APP0, APP1, APP1, APP2, COM, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, SOS
            ]
        );
        let clean = sanitize(FileKind::Jpeg, PHONE_JPEG).unwrap();
        assert_eq!(
            markers(&clean),
            [APP0, APP2, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, SOS]
        );
        assert_eq!(image_data(&clean), image_data(PHONE_JPEG));
        for needle in [
            b"Exif\0\0".as_slice(),
            b"Pixel 7",
            b"SN12345678",
            b"2024:05:17",
            b"GPSLatitude",
            b"Urlaub bei Oma",
        ] {
            assert!(contains(PHONE_JPEG, needle));
            assert!(!contains(&clean, needle), "{needle:?} survived");
        }
        let icc = |jpeg: &[u8]| {
            jpeg_segments(jpeg)
                .into_iter()
                .find(|(m, _, _)| *m == APP2)
                .map(|(_, _, payload)| payload)
        };
        assert!(icc(&clean).unwrap().starts_with(b"ICC_PROFILE\0"));
        assert_eq!(icc(&clean), icc(PHONE_JPEG));
        assert_eq!(sanitize(FileKind::Jpeg, &clean), Ok(clean.clone()));
    }

    #[test]
    fn jpeg_app_segments_follow_the_policy() {
        let jpeg = after_app0(
            PROGRESSIVE_JPEG,
            &[
                seg(APP2, b"MPF\0II*\0 second image after EOI"),
                seg(0xE3, b"Meta\0 Kodak"),
                seg(0xED, b"Photoshop 3.0\08BIM IPTC by-line Erika"),
                seg(APP14, b"Adobe\0\x64\0\0\0\0\x01"),
                seg(APP14, b"Ducky quality"),
                seg(0xEF, b"vendor"),
                seg(COM, b"comment"),
                seg(APP2, b"ICC_PROFILE\0\x01\x01fake profile"),
            ],
        );
        let clean = sanitize(FileKind::Jpeg, &jpeg).unwrap();
        let kept: Vec<(u8, Vec<u8>)> = jpeg_segments(&clean)
            .into_iter()
            .take(3)
            .map(|(m, _, p)| (m, p))
            .collect();
        assert_eq!(kept[0].0, APP0);
        assert_eq!(kept[1], (APP14, b"Adobe\0\x64\0\0\0\0\x01".to_vec()));
        assert_eq!(
            kept[2],
            (APP2, b"ICC_PROFILE\0\x01\x01fake profile".to_vec())
        );
        assert_eq!(
            &clean[20..],
            &[
                seg(APP14, b"Adobe\0\x64\0\0\0\0\x01"),
                seg(APP2, b"ICC_PROFILE\0\x01\x01fake profile"),
                PROGRESSIVE_JPEG[20..].to_vec()
            ]
            .concat()[..]
        );
    }

    #[test]
    fn jfif_thumbnail_is_removed() {
        let mut app0 = b"JFIF\0\x01\x02\x00\x00\x48\x00\x48\x01\x01".to_vec();
        app0.extend_from_slice(b"RGB");
        let jpeg = [&[0xFF, SOI][..], &seg(APP0, &app0), &PROGRESSIVE_JPEG[20..]].concat();
        let clean = sanitize(FileKind::Jpeg, &jpeg).unwrap();
        assert_eq!(
            &clean[..20],
            &[
                &[0xFF, SOI][..],
                &seg(APP0, b"JFIF\0\x01\x02\x00\x00\x48\x00\x48\x00\x00")
            ]
            .concat()[..]
        );
        assert_eq!(&clean[20..], &PROGRESSIVE_JPEG[20..]);
        let not_jfif = [
            &[0xFF, SOI][..],
            &seg(APP0, b"AVI1\0\0"),
            &PROGRESSIVE_JPEG[20..],
        ]
        .concat();
        assert_eq!(
            sanitize(FileKind::Jpeg, &not_jfif).unwrap(),
            [&[0xFF, SOI][..], &PROGRESSIVE_JPEG[20..]].concat()
        );
    }

    #[test]
    fn progressive_jpeg_keeps_every_scan_and_drops_metadata_between_scans() {
        assert_eq!(
            sanitize(FileKind::Jpeg, PROGRESSIVE_JPEG),
            Ok(PROGRESSIVE_JPEG.to_vec())
        );
        assert_eq!(
            markers(PROGRESSIVE_JPEG)
                .iter()
                .filter(|m| **m == SOS)
                .count(),
            6
        );
        // Put an EXIF segment and a comment between the first scan and the following DHT.
        let (_, second_dht, _) = jpeg_segments(PROGRESSIVE_JPEG)
            .into_iter()
            .filter(|(m, _, _)| *m == 0xC4)
            .nth(1)
            .unwrap();
        let jpeg = [
            &PROGRESSIVE_JPEG[..second_dht],
            &seg(APP1, &exif_payload(true, 6)),
            &seg(COM, b"between scans"),
            &PROGRESSIVE_JPEG[second_dht..],
        ]
        .concat();
        assert_eq!(
            sanitize(FileKind::Jpeg, &jpeg),
            Ok(PROGRESSIVE_JPEG.to_vec())
        );
    }

    #[test]
    fn data_after_eoi_is_dropped() {
        let mut jpeg = PROGRESSIVE_JPEG.to_vec();
        jpeg.extend_from_slice(b"\0\0\0\x18ftypmp42 motion photo video");
        assert_eq!(
            sanitize(FileKind::Jpeg, &jpeg),
            Ok(PROGRESSIVE_JPEG.to_vec())
        );
        // A second, complete JPEG appended (MPF) with its own EXIF goes as well.
        let mut mpo = PROGRESSIVE_JPEG.to_vec();
        mpo.extend_from_slice(&after_app0(
            PROGRESSIVE_JPEG,
            &[seg(APP1, &exif_payload(false, 1))],
        ));
        assert_eq!(
            sanitize(FileKind::Jpeg, &mpo),
            Ok(PROGRESSIVE_JPEG.to_vec())
        );
    }

    /// SOF0 for a 1x1 greyscale image and a one-component scan header.
    fn minimal_jpeg(scan: &[u8]) -> Vec<u8> {
        [
            &[0xFF, SOI][..],
            &seg(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
            &seg(SOS, &[1, 1, 0, 0, 63, 0]),
            scan,
            &[0xFF, EOI],
        ]
        .concat()
    }

    #[test]
    fn stuffed_bytes_restart_markers_and_fill_bytes_in_image_data() {
        let jpeg = minimal_jpeg(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD7, 0x78]);
        assert_eq!(sanitize(FileKind::Jpeg, &jpeg), Ok(jpeg.clone()));
        // Fill bytes before a marker are legal and carry nothing worth keeping.
        let mut padded = minimal_jpeg(&[0x12]);
        padded.insert(padded.len() - 2, 0xFF);
        padded.insert(padded.len() - 2, 0xFF);
        assert_eq!(sanitize(FileKind::Jpeg, &padded), Ok(minimal_jpeg(&[0x12])));
    }

    #[test]
    fn malformed_jpegs_are_rejected() {
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, META_PNG)),
            "start-of-image marker missing"
        );
        // Cut inside the first DHT: its length points past the end.
        let (_, dht, _) = jpeg_segments(PHONE_JPEG)
            .into_iter()
            .find(|(m, _, _)| *m == 0xC4)
            .unwrap();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &PHONE_JPEG[..dht + 10])),
            "a segment runs past the end of the file"
        );
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &PHONE_JPEG[..dht + 3])),
            "a segment runs past the end of the file"
        );
        let n = PHONE_JPEG.len();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &PHONE_JPEG[..n - 2])),
            "the file ends inside the image data"
        );
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &PHONE_JPEG[..n - 1])),
            "the file ends inside the image data"
        );
        let no_scan = [&PHONE_JPEG[..dht], &[0xFF, EOI]].concat();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &no_scan)),
            "no image data (start-of-scan marker missing)"
        );
        let header_only = [&PHONE_JPEG[..dht]].concat();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &header_only)),
            "the file ends before the end-of-image marker"
        );
        let scan_first = [
            &[0xFF, SOI][..],
            &seg(SOS, &[1, 1, 0, 0, 63, 0]),
            &[0x12, 0xFF, EOI],
        ]
        .concat();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &scan_first)),
            "image data before the frame header"
        );
        let mut bad_length = minimal_jpeg(&[0x12]);
        bad_length[5] = 1;
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &bad_length)),
            "a segment has an invalid length"
        );
        let reserved = [&[0xFF, SOI][..], &seg(0x42, b"x"), &minimal_jpeg(&[1])[2..]].concat();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &reserved)),
            "reserved marker"
        );
        let garbage = [&[0xFF, SOI][..], b"garbage", &minimal_jpeg(&[1])[2..]].concat();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &garbage)),
            "expected a marker between segments"
        );
        let double_soi = [&[0xFF, SOI][..], &minimal_jpeg(&[1])].concat();
        assert_eq!(
            reason(sanitize(FileKind::Jpeg, &double_soi)),
            "a second start-of-image marker"
        );
    }

    #[test]
    fn exif_orientation_is_read_in_both_byte_orders() {
        // Pillow writes big-endian ("MM") EXIF.
        assert_eq!(jpeg_exif_orientation(PHONE_JPEG), Some(6));
        let little = after_app0(PROGRESSIVE_JPEG, &[seg(APP1, &exif_payload(false, 3))]);
        assert_eq!(jpeg_exif_orientation(&little), Some(3));
        let big = after_app0(PROGRESSIVE_JPEG, &[seg(APP1, &exif_payload(true, 8))]);
        assert_eq!(jpeg_exif_orientation(&big), Some(8));
        // An XMP APP1 before the EXIF one does not hide it.
        let xmp_first = after_app0(
            PROGRESSIVE_JPEG,
            &[
                seg(APP1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"),
                seg(APP1, &exif_payload(false, 5)),
            ],
        );
        assert_eq!(jpeg_exif_orientation(&xmp_first), Some(5));
        let out_of_range = after_app0(PROGRESSIVE_JPEG, &[seg(APP1, &exif_payload(false, 9))]);
        assert_eq!(jpeg_exif_orientation(&out_of_range), None);
        assert_eq!(jpeg_exif_orientation(PROGRESSIVE_JPEG), None);
        assert_eq!(
            jpeg_exif_orientation(&sanitize(FileKind::Jpeg, PHONE_JPEG).unwrap()),
            None
        );
        assert_eq!(jpeg_exif_orientation(META_PNG), None);
        let mut truncated_ifd = exif_payload(true, 6);
        truncated_ifd.truncate(6 + 8 + 2 + 12 + 4);
        let truncated = after_app0(PROGRESSIVE_JPEG, &[seg(APP1, &truncated_ifd)]);
        assert_eq!(jpeg_exif_orientation(&truncated), None);
    }

    #[test]
    fn png_metadata_chunks_are_removed_and_crcs_stay_valid() {
        assert_eq!(
            png_chunks(META_PNG),
            [
                *b"IHDR", *b"tEXt", *b"iTXt", *b"zTXt", *b"tIME", *b"gAMA", *b"prVt", *b"pHYs",
                *b"eXIf", *b"IDAT", *b"IEND"
            ]
        );
        let clean = sanitize(FileKind::Png, META_PNG).unwrap();
        assert_eq!(
            png_chunks(&clean),
            [*b"IHDR", *b"gAMA", *b"pHYs", *b"IDAT", *b"IEND"]
        );
        for needle in [b"Erika Mustermann".as_slice(), b"Schlagloch", b"Google"] {
            assert!(contains(META_PNG, needle));
            assert!(!contains(&clean, needle), "{needle:?} survived");
        }
        assert_eq!(sanitize(FileKind::Png, &clean), Ok(clean.clone()));
    }

    #[test]
    fn png_with_corrupt_crc_is_rejected() {
        let mut png = META_PNG.to_vec();
        // Flip one bit of the image data: only the CRC notices.
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        png[idat + 6] ^= 0x01;
        assert_eq!(
            reason(sanitize(FileKind::Png, &png)),
            "a chunk checksum (CRC) is wrong"
        );
        // A corrupt ancillary chunk is rejected too, although it would be dropped anyway.
        let mut png = META_PNG.to_vec();
        let text = png.windows(4).position(|w| w == b"tEXt").unwrap();
        png[text + 5] ^= 0x20;
        assert_eq!(
            reason(sanitize(FileKind::Png, &png)),
            "a chunk checksum (CRC) is wrong"
        );
    }

    #[test]
    fn malformed_pngs_are_rejected() {
        let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        let idat = png_chunk(
            b"IDAT",
            &[
                0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF, 0, 0, 0, 0x02, 0, 0x01,
            ],
        );
        let iend = png_chunk(b"IEND", &[]);
        let png = |chunks: &[&[u8]]| [&PNG_SIGNATURE[..], &chunks.concat()].concat();

        let valid = png(&[&ihdr, &idat, &iend]);
        assert_eq!(sanitize(FileKind::Png, &valid), Ok(valid.clone()));
        assert_eq!(
            reason(sanitize(FileKind::Png, PHONE_JPEG)),
            "PNG signature missing"
        );
        assert_eq!(
            reason(sanitize(FileKind::Png, &valid[..valid.len() - 2])),
            "a chunk runs past the end of the file"
        );
        assert_eq!(
            reason(sanitize(FileKind::Png, &valid[..valid.len() - 12])),
            "the file ends before the IEND chunk"
        );
        assert_eq!(
            reason(sanitize(FileKind::Png, &png(&[&idat, &ihdr, &iend]))),
            "the first chunk is not IHDR"
        );
        assert_eq!(
            reason(sanitize(FileKind::Png, &png(&[&ihdr, &iend]))),
            "no image data (IDAT chunk missing)"
        );
        assert_eq!(
            reason(sanitize(FileKind::Png, &png(&[&ihdr, &ihdr, &idat, &iend]))),
            "a second IHDR chunk"
        );
        let cgbi = png_chunk(b"CgBI", &[0x50, 0, 0x20, 0x06]);
        assert_eq!(
            reason(sanitize(FileKind::Png, &png(&[&cgbi, &ihdr, &idat, &iend]))),
            "the first chunk is not IHDR"
        );
        assert_eq!(
            reason(sanitize(FileKind::Png, &png(&[&ihdr, &cgbi, &idat, &iend]))),
            "unknown critical chunk"
        );
        let zero_width = png_chunk(b"IHDR", &[0, 0, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        assert_eq!(
            reason(sanitize(FileKind::Png, &png(&[&zero_width, &idat, &iend]))),
            "invalid IHDR chunk"
        );
        let mut huge = valid.clone();
        huge[8..12].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
        assert_eq!(
            reason(sanitize(FileKind::Png, &huge)),
            "a chunk length is out of range"
        );
        let mut long = valid.clone();
        long[8..12].copy_from_slice(&0x0000_F000u32.to_be_bytes());
        assert_eq!(
            reason(sanitize(FileKind::Png, &long)),
            "a chunk runs past the end of the file"
        );
        let bad_type = png(&[&ihdr, &png_chunk(b"ab1d", &[]), &idat, &iend]);
        assert_eq!(
            reason(sanitize(FileKind::Png, &bad_type)),
            "invalid chunk type"
        );
    }

    #[test]
    fn png_data_after_iend_is_dropped_and_animation_chunks_too() {
        let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        let idat = png_chunk(b"IDAT", &[0x78, 0x01]);
        let iend = png_chunk(b"IEND", &[]);
        let actl = png_chunk(b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0]);
        let srgb = png_chunk(b"sRGB", &[0]);
        let with_trailer = [
            &PNG_SIGNATURE[..],
            &ihdr,
            &srgb,
            &actl,
            &idat,
            &iend,
            b"PK\x03\x04 appended zip",
        ]
        .concat();
        let expected = [&PNG_SIGNATURE[..], &ihdr, &srgb, &idat, &iend].concat();
        assert_eq!(sanitize(FileKind::Png, &with_trailer), Ok(expected));
    }

    #[test]
    fn pdf_is_checked_and_returned_unchanged() {
        let pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
        assert_eq!(sanitize(FileKind::Pdf, pdf), Ok(pdf.to_vec()));
        assert_eq!(
            reason(sanitize(FileKind::Pdf, b"%PDF-1.4\n1 0 obj")),
            "no %%EOF marker near the end (file truncated?)"
        );
        let mut padded = pdf.to_vec();
        padded.extend(std::iter::repeat_n(b'\n', 1000));
        assert!(sanitize(FileKind::Pdf, &padded).is_ok());
        padded.extend(std::iter::repeat_n(b'\n', 100));
        assert!(sanitize(FileKind::Pdf, &padded).is_err());
        assert_eq!(
            reason(sanitize(FileKind::Pdf, b"<html>%%EOF")),
            "PDF header missing"
        );
        assert_eq!(sanitize(FileKind::Pdf, b""), Err(UploadError::Empty));
    }

    const IMAGES: [FileKind; 2] = [FileKind::Jpeg, FileKind::Png];

    #[test]
    fn check_upload_runs_every_check_in_order() {
        assert_eq!(check_upload(b"", &IMAGES, 10), Err(UploadError::Empty));
        assert_eq!(
            check_upload(PHONE_JPEG, &IMAGES, 1000),
            Err(UploadError::TooLarge {
                size: 1805,
                max: 1000
            })
        );
        assert_eq!(
            check_upload(b"GIF89a....", &IMAGES, 1000),
            Err(UploadError::UnknownType)
        );
        assert_eq!(
            check_upload(
                b"%PDF-1.4\n%%EOF",
                &[FileKind::Jpeg, FileKind::Png, FileKind::Jpeg],
                1000
            ),
            Err(UploadError::NotAllowed {
                found: FileKind::Pdf,
                allowed: IMAGES.to_vec()
            })
        );
        let (kind, clean) = check_upload(PHONE_JPEG, &IMAGES, 10_000_000).unwrap();
        assert_eq!(kind, FileKind::Jpeg);
        assert_eq!(Ok(clean), sanitize(FileKind::Jpeg, PHONE_JPEG));
        assert_eq!(
            check_upload(PHONE_JPEG, &IMAGES, 1805).map(|(k, _)| k),
            Ok(FileKind::Jpeg)
        );
        let (kind, _) = check_upload(META_PNG, &IMAGES, 10_000_000).unwrap();
        assert_eq!(kind, FileKind::Png);
        assert!(matches!(
            check_upload(&PHONE_JPEG[..100], &IMAGES, 10_000),
            Err(UploadError::Malformed {
                kind: FileKind::Jpeg,
                ..
            })
        ));
    }

    #[test]
    fn messages_state_limits_in_german_units() {
        let too_large = |size, max| UploadError::TooLarge { size, max }.message_de();
        assert_eq!(
            too_large(12_400_000, 10_000_000),
            "Die Datei ist 12,4 MB groß; erlaubt sind höchstens 10 MB."
        );
        assert_eq!(
            too_large(10_000_001, 10_000_000),
            "Die Datei ist 10,1 MB groß; erlaubt sind höchstens 10 MB."
        );
        assert_eq!(
            too_large(12_000_000, 10_485_760),
            "Die Datei ist 12 MB groß; erlaubt sind höchstens 10,4 MB."
        );
        assert_eq!(
            too_large(999_999, 500_000),
            "Die Datei ist 1 MB groß; erlaubt sind höchstens 500 kB."
        );
        assert_eq!(
            too_large(1805, 1000),
            "Die Datei ist 1,9 kB groß; erlaubt sind höchstens 1 kB."
        );
        assert_eq!(
            too_large(2, 1),
            "Die Datei ist 2 Bytes groß; erlaubt sind höchstens 1 Byte."
        );
        assert_eq!(
            too_large(2_500_000_000, 1_000_000_000),
            "Die Datei ist 2.500 MB groß; erlaubt sind höchstens 1.000 MB."
        );
        assert_eq!(
            UploadError::TooLarge {
                size: 12_400_000,
                max: 10_000_000
            }
            .to_string(),
            "the file has 12400000 bytes, the limit is 10000000 bytes"
        );
    }

    #[test]
    fn messages_name_the_types_in_german() {
        let not_allowed = |found, allowed: &[FileKind]| UploadError::NotAllowed {
            found,
            allowed: allowed.to_vec(),
        };
        assert_eq!(
            not_allowed(FileKind::Pdf, &IMAGES).message_de(),
            "Die Datei ist ein PDF-Dokument. Bitte ein JPEG-Bild oder ein PNG-Bild hochladen."
        );
        assert_eq!(
            not_allowed(FileKind::Png, &[FileKind::Pdf]).message_de(),
            "Die Datei ist ein PNG-Bild. Bitte ein PDF-Dokument hochladen."
        );
        assert_eq!(
            not_allowed(
                FileKind::Png,
                &[FileKind::Pdf, FileKind::Jpeg, FileKind::Jpeg]
            )
            .message_de(),
            "Die Datei ist ein PNG-Bild. Bitte ein PDF-Dokument, ein JPEG-Bild oder ein JPEG-Bild hochladen."
        );
        assert!(
            not_allowed(FileKind::Png, &[])
                .message_de()
                .contains("keine Dateien")
        );
        assert_eq!(
            not_allowed(FileKind::Pdf, &IMAGES).to_string(),
            "PDF files are not accepted here (allowed: JPEG, PNG)"
        );
        let broken = UploadError::Malformed {
            kind: FileKind::Jpeg,
            reason: "no image data (start-of-scan marker missing)",
        };
        assert!(
            broken
                .message_de()
                .starts_with("Das JPEG-Bild ist beschädigt")
        );
        assert_eq!(
            broken.to_string(),
            "the JPEG file is malformed: no image data (start-of-scan marker missing)"
        );
        assert!(
            UploadError::UnknownType
                .message_de()
                .contains("PDF-Dokumente")
        );
        assert!(UploadError::Empty.message_de().contains("leer"));
    }

    #[test]
    fn safe_filename_strips_paths_and_special_characters() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\Users\\x\\Foto 1.JPG"), "Foto 1.JPG");
        assert_eq!(safe_filename("ä b<script>.pdf"), "ä b_script_.pdf");
        assert_eq!(
            safe_filename("Straße (Übersicht)-v2_final.png"),
            "Straße (Übersicht)-v2_final.png"
        );
        assert_eq!(safe_filename("Çelik Łukasz.jpg"), "Çelik Łukasz.jpg");
        assert_eq!(
            safe_filename("a\u{308}rger U\u{308}bel.png"),
            "ärger Übel.png"
        );
        assert_eq!(
            safe_filename("Rechnung\t\n\u{202E}gpj.exe"),
            "Rechnung_gpj.exe"
        );
        assert_eq!(safe_filename("a\u{A0}\u{2003}b.pdf"), "a b.pdf");
        assert_eq!(safe_filename("a***???b.pdf"), "a_b.pdf");
        assert_eq!(safe_filename("Фото.jpg"), "datei.jpg");
        assert_eq!(safe_filename(".htaccess"), "htaccess");
        assert_eq!(safe_filename("-rf .pdf"), "rf.pdf");
        assert_eq!(safe_filename("CON.pdf"), "_CON.pdf");
        assert_eq!(safe_filename("lpt1"), "_lpt1");
        assert_eq!(safe_filename("Console.pdf"), "Console.pdf");
        for empty in ["", "/", "..", "...", "C:\\", "  ", "\u{0}", ".pdf"] {
            let name = safe_filename(empty);
            assert!(
                name == "datei" || name == "datei.pdf",
                "{empty:?} -> {name:?}"
            );
        }
    }

    #[test]
    fn safe_filename_limits_length_and_keeps_the_extension() {
        let long = safe_filename(&format!("{}.pdf", "x".repeat(300)));
        assert_eq!(long.chars().count(), 100);
        assert!(long.ends_with("xx.pdf"));
        let umlauts = safe_filename(&"ä".repeat(300));
        assert_eq!(umlauts.chars().count(), 100);
        // The cut must not leave a trailing dot or space before the extension.
        let cut = safe_filename(&format!("{} b.png", "a".repeat(95)));
        assert_eq!(cut, format!("{}.png", "a".repeat(95)));
    }

    #[test]
    fn display_name_forces_the_sniffed_extension() {
        assert_eq!(
            display_name("C:\\Users\\x\\Foto 1.JPG", FileKind::Jpeg),
            "Foto 1.JPG"
        );
        assert_eq!(display_name("bild.jpeg", FileKind::Jpeg), "bild.jpeg");
        assert_eq!(display_name("Foto 1.JPG", FileKind::Png), "Foto 1.png");
        assert_eq!(display_name("rechnung.docx", FileKind::Pdf), "rechnung.pdf");
        assert_eq!(display_name("scan", FileKind::Pdf), "scan.pdf");
        assert_eq!(
            display_name("Foto vom 12.03", FileKind::Jpeg),
            "Foto vom 12.03.jpg"
        );
        assert_eq!(
            display_name("Bericht v1.final", FileKind::Pdf),
            "Bericht v1.final.pdf"
        );
        assert_eq!(display_name("", FileKind::Png), "datei.png");
        assert_eq!(
            display_name("../../etc/passwd", FileKind::Pdf),
            "passwd.pdf"
        );
        assert_eq!(
            display_name("ä b<script>.pdf", FileKind::Pdf),
            "ä b_script_.pdf"
        );
        let long = display_name(&"y".repeat(120), FileKind::Jpeg);
        assert_eq!(long, format!("{}.jpg", "y".repeat(96)));
    }

    proptest! {
        #[test]
        fn sanitize_never_panics_on_arbitrary_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            kind in proptest::sample::select(FileKind::ALL.to_vec()),
        ) {
            let _ = sanitize(kind, &bytes);
            let _ = jpeg_exif_orientation(&bytes);
        }

        #[test]
        fn damaged_fixtures_are_rejected_or_cleaned_stably(
            fixture in 0usize..3,
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let (kind, original) = [
                (FileKind::Jpeg, PHONE_JPEG),
                (FileKind::Jpeg, PROGRESSIVE_JPEG),
                (FileKind::Png, META_PNG),
            ][fixture];
            let mut bytes = original.to_vec();
            bytes[at.index(original.len())] = value;
            if truncate {
                bytes.truncate(cut.index(original.len()));
            }
            let _ = jpeg_exif_orientation(&bytes);
            if let Ok(clean) = sanitize(kind, &bytes) {
                prop_assert!(clean.len() <= bytes.len());
                prop_assert_eq!(sanitize(kind, &clean), Ok(clean.clone()));
            }
        }

        #[test]
        fn safe_filename_is_always_safe(original in "\\PC{0,300}") {
            let name = safe_filename(&original);
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.starts_with('.'));
            prop_assert!(name.chars().all(|c| is_name_letter(c) || " .-_()".contains(c)), "{}", name);
            for kind in FileKind::ALL {
                let shown = display_name(&original, kind);
                prop_assert!(shown.chars().count() <= MAX_NAME_CHARS);
                let ext = shown.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
                prop_assert!(kind.accepts_extension(ext), "{}", shown);
            }
        }
    }
}
