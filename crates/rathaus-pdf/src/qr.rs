use qrcode::{Color, EcLevel, QrCode};

use crate::PdfError;

/// Modules of light margin on each side; ISO/IEC 18004 asks for four, and banking apps fail
/// to find codes printed closer to other ink.
pub(crate) const QUIET_ZONE: usize = 4;

/// A QR symbol as a square of dark (true) and light modules, without the quiet zone.
#[derive(Clone, Debug)]
pub(crate) struct QrMatrix {
    pub(crate) width: usize,
    pub(crate) dark: Vec<bool>,
}

impl QrMatrix {
    /// Level M, as the EPC guidelines for the "GiroCode" credit-transfer code require.
    pub(crate) fn encode(payload: &str) -> Result<QrMatrix, PdfError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
            .map_err(|e| PdfError::QrCode(e.to_string()))?;
        Ok(QrMatrix {
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        })
    }

    /// Horizontal runs of dark modules as (row, first column, length), so a symbol becomes a
    /// few hundred rectangles instead of one per module.
    pub(crate) fn dark_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for (row, cells) in self.dark.chunks(self.width.max(1)).enumerate() {
            let mut col = 0;
            while col < cells.len() {
                if cells[col] {
                    let start = col;
                    while col < cells.len() && cells[col] {
                        col += 1;
                    }
                    runs.push((row, start, col - start));
                } else {
                    col += 1;
                }
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_an_epc_payload_with_finder_patterns() {
        let payload = "BCD\n002\n1\nSCT\nBELADEBEXXX\nGemeinde Panketal\nDE02120300000000202051\nEUR120.00\n\n\nHST-2026-000123";
        let qr = QrMatrix::encode(payload).unwrap();
        assert_eq!(qr.dark.len(), qr.width * qr.width);
        // Top-left finder pattern: a 7-module dark square edge.
        assert!(qr.dark[..7].iter().all(|&d| d));
        let runs = qr.dark_runs();
        let dark_in_runs: usize = runs.iter().map(|r| r.2).sum();
        assert_eq!(dark_in_runs, qr.dark.iter().filter(|&&d| d).count());
    }
}
