//! Drawing on a PDF page: text in the embedded DejaVu Sans (wrapped and centred by the font's
//! own advance widths), filled rectangles, and a QR code drawn as filled rectangles, so the code
//! is vector art that stays sharp at any print size.
//!
//! The fonts are compiled into the binary and embedded (subset) in every file, so a print shop
//! without DejaVu prints the same glyphs, and the Indonesian text needs no font on the machine
//! that makes the file. Coordinates are PDF points from the bottom-left corner.

use super::OutreachError;
use printpdf::{
    Color, FontId, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

/// DejaVu Sans 2.37 (Bitstream Vera licence, assets/fonts/LICENSE-DejaVu.txt).
const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold 2.37.
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A colour as red, green and blue from 0 to 1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rgb3(pub f32, pub f32, pub f32);

impl Rgb3 {
    fn color(self) -> Color {
        Color::Rgb(Rgb {
            r: self.0,
            g: self.1,
            b: self.2,
            icc_profile: None,
        })
    }
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// Where a line sits between the left and right edges it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Centre,
}

/// One parsed face and its id in the document.
struct Face {
    parsed: ParsedFont,
    id: FontId,
}

impl Face {
    /// Width of `text` at `size`, from the font's advances: the same glyphs printpdf writes,
    /// which does no kerning, so the measure matches what is drawn.
    fn width(&self, text: &str, size: f32) -> f32 {
        let upm = f32::from(self.parsed.units_per_em.max(1));
        let units: u32 = text
            .chars()
            .map(|c| {
                self.parsed
                    .lookup_glyph_index(c as u32)
                    .or_else(|| self.parsed.lookup_glyph_index('?' as u32))
                    .and_then(|g| self.parsed.get_glyph_width(g))
                    .map_or(0, u32::from)
            })
            .sum();
        units as f32 * size / upm
    }
}

/// A document being drawn: its fonts and its finished pages.
pub(crate) struct Doc {
    pdf: PdfDocument,
    regular: Face,
    bold: Face,
    pages: Vec<PdfPage>,
}

impl Doc {
    pub(crate) fn new(title: &str) -> Result<Doc, OutreachError> {
        let mut pdf = PdfDocument::new(title);
        let mut face = |bytes: &[u8], name: &str| {
            let parsed = ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
                .ok_or_else(|| OutreachError::Font(name.to_owned()))?;
            let id = pdf.add_font(&parsed);
            Ok::<_, OutreachError>(Face { parsed, id })
        };
        let regular = face(REGULAR_TTF, "DejaVuSans.ttf")?;
        let bold = face(BOLD_TTF, "DejaVuSans-Bold.ttf")?;
        Ok(Doc {
            pdf,
            regular,
            bold,
            pages: Vec::new(),
        })
    }

    fn face(&self, w: Weight) -> &Face {
        match w {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// Width of `text` in points.
    pub(crate) fn width(&self, w: Weight, size: f32, text: &str) -> f32 {
        self.face(w).width(text, size)
    }

    /// Breaks `text` into lines no wider than `max`: at spaces, and inside a word (a long URL
    /// or onion address) only when the word alone is wider than a line.
    pub(crate) fn wrap(&self, w: Weight, size: f32, text: &str, max: f32) -> Vec<String> {
        let face = self.face(w);
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if face.width(&candidate, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it by characters if it is still too wide.
            for c in word.chars() {
                line.push(c);
                if face.width(&line, size) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Adds a finished page.
    pub(crate) fn push(&mut self, page: Page) {
        let mm = |pt: f32| Mm(pt * 25.4 / 72.0);
        self.pages
            .push(PdfPage::new(mm(page.width), mm(page.height), page.ops));
    }

    /// The PDF's bytes, fonts subset and embedded.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let pages = std::mem::take(&mut self.pages);
        self.pdf
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut Vec::new())
    }

    /// A blank page of `width` × `height` points.
    pub(crate) fn page(&self, width: f32, height: f32) -> Page {
        Page {
            width,
            height,
            ops: Vec::new(),
            regular: self.regular.id.clone(),
            bold: self.bold.id.clone(),
        }
    }
}

/// One page's drawing operations.
pub(crate) struct Page {
    pub(crate) width: f32,
    pub(crate) height: f32,
    ops: Vec<Op>,
    regular: FontId,
    bold: FontId,
}

impl Page {
    /// One line of text with its baseline at `y`; `x` is the left edge, or the centre when
    /// centred (`width` is the line's measured width).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn line(
        &mut self,
        w: Weight,
        size: f32,
        colour: Rgb3,
        x: f32,
        y: f32,
        width: f32,
        align: Align,
        text: &str,
    ) {
        let left = match align {
            Align::Left => x,
            Align::Centre => x - width / 2.0,
        };
        let font = match w {
            Weight::Regular => self.regular.clone(),
            Weight::Bold => self.bold.clone(),
        };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor {
                col: colour.color(),
            },
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(left),
                    y: Pt(y),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// A filled rectangle with its lower-left corner at (`x`, `y`).
    pub(crate) fn rect(&mut self, colour: Rgb3, x: f32, y: f32, width: f32, height: f32) {
        self.ops.push(Op::SetFillColor {
            col: colour.color(),
        });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(width),
                height: Pt(height),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    /// The QR code for `data` as a square of side `side` whose top-left corner is at
    /// (`x`, `top`), on a white square with the four-module quiet zone the standard asks for
    /// (ISO/IEC 18004, 9.1). Dark modules in a row are joined into one rectangle, so no
    /// hairline shows between them at any zoom.
    pub(crate) fn qr(
        &mut self,
        data: &str,
        x: f32,
        top: f32,
        side: f32,
    ) -> Result<(), OutreachError> {
        let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| OutreachError::Qr(e.to_string()))?;
        let n = code.width();
        let quiet = 4;
        let module = side / (n + 2 * quiet) as f32;
        self.rect(Rgb3(1.0, 1.0, 1.0), x, top - side, side, side);
        let colours = code.to_colors();
        let black = Rgb3(0.0, 0.0, 0.0);
        for row in 0..n {
            let y = top - (row + quiet + 1) as f32 * module;
            let mut col = 0;
            while col < n {
                if colours[row * n + col] != qrcode::Color::Dark {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < n && colours[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                let left = x + (start + quiet) as f32 * module;
                self.rect(black, left, y, (col - start) as f32 * module, module);
            }
        }
        Ok(())
    }
}
