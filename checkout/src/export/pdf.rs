//! A small page writer over `printpdf`: A4 pages of text lines and tables in
//! one embedded TrueType font, and the header every page of a report
//! carries (the shop's name, tax number and till, the business day, when the
//! report was made, the page's number of all).
//!
//! The font is read from the system at run time and embedded (subset) in
//! each PDF: no font file is shipped with Kasa. DejaVu Sans (Debian's
//! `fonts-dejavu-core`) or Arial on Windows, unless `shop.report_font` names
//! another; a font that is missing or has no Cyrillic is
//! [`Error::ReportFontMissing`].

use std::path::{Path, PathBuf};

use printpdf::{
    Line, LinePoint, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, TextItem,
};

use crate::{Error, Result};

use super::words::{ReportLang, Word};

/// The fonts tried when the settings name none, in order.
pub const SYSTEM_FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
    "C:\\Windows\\Fonts\\segoeui.ttf",
];

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
/// The left and right margin, mm.
pub const MARGIN: f32 = 14.0;
/// Where the body of a page starts (below the header), mm from the bottom.
const BODY_TOP: f32 = 262.0;
/// Where the body of a page ends, mm from the bottom.
const BODY_BOTTOM: f32 = 14.0;
/// The right edge of the text area, mm.
pub const RIGHT: f32 = PAGE_W - MARGIN;

/// A font read from disk, parsed once and reused for every report.
#[derive(Debug, Clone)]
pub struct ReportFont {
    pub path: PathBuf,
    parsed: ParsedFont,
}

impl ReportFont {
    /// The font `configured` names, else the first system font found.
    pub fn load(configured: &str) -> Result<ReportFont> {
        let candidates: Vec<PathBuf> = if configured.trim().is_empty() {
            SYSTEM_FONTS.iter().map(PathBuf::from).collect()
        } else {
            vec![PathBuf::from(configured.trim())]
        };
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(Error::ReportFontMissing(format!(
                "no font for PDF reports at {}: install fonts-dejavu-core or set shop.report_font",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        Self::from_file(path)
    }

    /// The TrueType font at `path`; it must have Cyrillic letters.
    pub fn from_file(path: &Path) -> Result<ReportFont> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::ReportFontMissing(format!("cannot read the font {}: {e}", path.display()))
        })?;
        let parsed = ParsedFont::from_bytes(&bytes, 0, &mut Vec::new()).ok_or_else(|| {
            Error::ReportFontMissing(format!("{} is not a TrueType font", path.display()))
        })?;
        if "ЖжЇїЄєІіҐґ₴"
            .chars()
            .take(10)
            .any(|c| parsed.lookup_glyph_index(u32::from(c)).is_none())
        {
            return Err(Error::ReportFontMissing(format!(
                "the font {} has no Ukrainian letters",
                path.display()
            )));
        }
        Ok(ReportFont {
            path: path.to_path_buf(),
            parsed,
        })
    }

    /// The width of `text` at `size` points, in mm.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let upm = f32::from(self.parsed.units_per_em.max(1));
        let units: u32 = text
            .chars()
            .map(|c| {
                self.parsed
                    .lookup_glyph_index(u32::from(c))
                    .and_then(|g| self.parsed.get_glyph_width(g))
                    .map_or(500, u32::from)
            })
            .sum();
        units as f32 / upm * size * 25.4 / 72.0
    }
}

/// What the header of every page says.
#[derive(Debug, Clone, Default)]
pub struct PageHeader {
    pub shop: String,
    pub tax_id: String,
    pub till: String,
    pub business_day: String,
    /// When the report was made, shop-local (`YYYY-MM-DD HH:MM`).
    pub generated: String,
    /// The report's title (first line under the header).
    pub title: String,
    /// The language of the header's labels.
    pub lang: ReportLang,
}

/// How a table cell lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table column: its heading, left edge and width (mm), alignment.
#[derive(Debug, Clone)]
pub struct Column {
    pub heading: &'static str,
    pub x: f32,
    pub width: f32,
    pub align: Align,
}

impl Column {
    pub const fn left(heading: &'static str, x: f32, width: f32) -> Self {
        Column {
            heading,
            x,
            width,
            align: Align::Left,
        }
    }
    pub const fn right(heading: &'static str, x: f32, width: f32) -> Self {
        Column {
            heading,
            x,
            width,
            align: Align::Right,
        }
    }
}

/// Body text size, points.
pub const BODY: f32 = 8.0;
/// Line height of body text, mm.
const LINE: f32 = 4.4;

/// A report being written, page by page.
#[derive(Debug)]
pub struct Pages<'f> {
    font: &'f ReportFont,
    doc: PdfDocument,
    handle: PdfFontHandle,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// The table whose heading is repeated on a new page.
    table: Option<Vec<Column>>,
}

impl<'f> Pages<'f> {
    /// A new report in `font`, titled `title` (the PDF's metadata).
    pub fn new(font: &'f ReportFont, title: &str) -> Self {
        let mut doc = PdfDocument::new(title);
        let id = doc.add_font(&font.parsed);
        Pages {
            font,
            doc,
            handle: PdfFontHandle::External(id),
            pages: vec![Vec::new()],
            y: BODY_TOP,
            table: None,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn put(ops: &mut Vec<Op>, handle: &PdfFontHandle, x: f32, y: f32, size: f32, text: &str) {
        ops.push(Op::StartTextSection);
        ops.push(Op::SetFont {
            font: handle.clone(),
            size: Pt(size),
        });
        ops.push(Op::SetTextCursor {
            pos: Point::new(Mm(x), Mm(y)),
        });
        ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        });
        ops.push(Op::EndTextSection);
    }

    fn put_line(ops: &mut Vec<Op>, x1: f32, x2: f32, y: f32) {
        ops.push(Op::SetOutlineThickness { pt: Pt(0.4) });
        ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: Point::new(Mm(x1), Mm(y)),
                        bezier: false,
                    },
                    LinePoint {
                        p: Point::new(Mm(x2), Mm(y)),
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
    }

    /// Start a new page (the table heading, if one is open, is repeated).
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = BODY_TOP;
        if let Some(cols) = self.table.clone() {
            self.heading_row(&cols);
        }
    }

    /// Room for `lines` lines of body text, or a new page.
    pub fn need(&mut self, lines: f32) {
        if self.y - lines * LINE < BODY_BOTTOM {
            self.new_page();
        }
    }

    /// Text at `x` on a line of its own.
    pub fn line(&mut self, x: f32, size: f32, text: &str) {
        self.need(1.0 + (size - BODY).max(0.0) / BODY);
        self.y -= LINE * (size / BODY).max(1.0);
        let (y, h) = (self.y, self.handle.clone());
        Self::put(self.ops(), &h, x, y, size, text);
    }

    /// A label on the left and a value lined up at the right edge.
    pub fn pair(&mut self, label: &str, value: &str) {
        self.need(1.0);
        self.y -= LINE;
        let (y, h) = (self.y, self.handle.clone());
        let w = self.font.width(value, BODY);
        Self::put(self.ops(), &h, MARGIN, y, BODY, label);
        Self::put(self.ops(), &h, RIGHT - w, y, BODY, value);
    }

    /// Empty space of `lines` lines.
    pub fn gap(&mut self, lines: f32) {
        self.y -= LINE * lines;
        if self.y < BODY_BOTTOM {
            self.new_page();
        }
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        self.need(3.0);
        self.gap(0.5);
        self.line(MARGIN, 10.0, text);
        self.y -= 1.0;
    }

    fn heading_row(&mut self, cols: &[Column]) {
        self.y -= LINE;
        let (y, h) = (self.y, self.handle.clone());
        let cells: Vec<String> = cols.iter().map(|c| c.heading.to_string()).collect();
        self.cells(cols, &cells, y, &h, 7.0);
        let y = self.y - 1.2;
        Self::put_line(self.ops(), MARGIN, RIGHT, y);
        self.y -= 1.2;
    }

    fn cells(&mut self, cols: &[Column], cells: &[String], y: f32, h: &PdfFontHandle, size: f32) {
        for (c, text) in cols.iter().zip(cells) {
            let text = self.fit(text, c.width, size);
            let x = match c.align {
                Align::Left => c.x,
                Align::Right => c.x + c.width - self.font.width(&text, size),
            };
            Self::put(self.ops(), h, x, y, size, &text);
        }
    }

    /// `text` cut with an ellipsis to fit `width` mm.
    fn fit(&self, text: &str, width: f32, size: f32) -> String {
        if self.font.width(text, size) <= width {
            return text.to_string();
        }
        let mut out: String = text.to_string();
        while !out.is_empty() && self.font.width(&format!("{out}…"), size) > width {
            out.pop();
        }
        format!("{out}…")
    }

    /// Open a table: its heading now and on every page it runs onto.
    pub fn table(&mut self, cols: &[Column]) {
        self.need(3.0);
        self.table = Some(cols.to_vec());
        self.heading_row(cols);
    }

    /// One row of the open table.
    pub fn row(&mut self, cells: &[String]) {
        let Some(cols) = self.table.clone() else {
            return;
        };
        self.need(1.0);
        self.y -= LINE;
        let (y, h) = (self.y, self.handle.clone());
        self.cells(&cols, cells, y, &h, 7.5);
    }

    /// Close the open table with a rule.
    pub fn end_table(&mut self) {
        self.table = None;
        self.y -= 1.2;
        let y = self.y;
        Self::put_line(self.ops(), MARGIN, RIGHT, y);
    }

    /// The pages so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Every page's operations: its header (with its number) and body.
    fn laid_out(&mut self, header: &PageHeader) -> Vec<Vec<Op>> {
        let total = self.pages.len();
        let h = self.handle.clone();
        let font = self.font;
        let lang = header.lang;
        std::mem::take(&mut self.pages)
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let mut ops = Vec::with_capacity(body.len() + 40);
                let top = PAGE_H - MARGIN;
                Self::put(&mut ops, &h, MARGIN, top, 12.0, &header.shop);
                let page = lang.say(Word::PageOf, &[("page", &(i + 1)), ("pages", &total)]);
                let w = font.width(&page, BODY);
                Self::put(&mut ops, &h, RIGHT - w, top, BODY, &page);
                let ids = format!(
                    "{}    {}",
                    lang.say(Word::TaxId, &[("tax_id", &dash(&header.tax_id))]),
                    lang.say(Word::Till, &[("till", &dash(&header.till))])
                );
                Self::put(&mut ops, &h, MARGIN, top - 5.5, BODY, &ids);
                let when = format!(
                    "{}    {}",
                    lang.say(Word::BusinessDay, &[("day", &header.business_day)]),
                    lang.say(Word::Generated, &[("at", &header.generated)])
                );
                Self::put(&mut ops, &h, MARGIN, top - 10.0, BODY, &when);
                Self::put(&mut ops, &h, MARGIN, top - 16.5, 11.0, &header.title);
                Self::put_line(&mut ops, MARGIN, RIGHT, top - 18.5);
                ops.extend(body);
                ops
            })
            .collect()
    }

    /// The PDF: every page with `header` and its number.
    pub fn finish(mut self, header: &PageHeader) -> Vec<u8> {
        let pages: Vec<PdfPage> = self
            .laid_out(header)
            .into_iter()
            .map(|ops| PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops))
            .collect();
        self.doc
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut Vec::new())
    }

    /// The texts the PDF would show, page by page in the order written
    /// (each page's header first): what a test reads instead of the PDF.
    pub fn texts(mut self, header: &PageHeader) -> Vec<Vec<String>> {
        self.laid_out(header)
            .into_iter()
            .map(|ops| {
                ops.into_iter()
                    .filter_map(|op| match op {
                        Op::ShowText { items } => Some(items),
                        _ => None,
                    })
                    .flatten()
                    .filter_map(|item| match item {
                        TextItem::Text(t) => Some(t),
                        _ => None,
                    })
                    .collect()
            })
            .collect()
    }
}

fn dash(s: &str) -> &str {
    if s.trim().is_empty() {
        "—"
    } else {
        s
    }
}
