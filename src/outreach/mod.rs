//! The outreach kit (issue 10): a poster (A4 or A3) and an A5 leaflet as print-ready PDFs, and
//! a short announcement for a religious counsellor (penyuluh agama) or a Friday sermon (khutbah
//! Jumat), all in Bahasa Indonesia.
//!
//! Everything printed comes from the operator's config file ([`Kit::from_config`]): the unit's
//! name, the intake's public URL and the onion address. Nothing comes from the database, which
//! this room cannot reach, so a database writer cannot put another address on a poster that
//! hangs in a mosque for a year. The fixed texts are the intake's own ([`Intake::ID`]): a
//! reporter reads the same notice, steps and law on paper and on the site.

pub(crate) mod pdf;

use crate::config::Config;
use crate::web::i18n::Intake;
use pdf::{Align, Doc, Page, Rgb3, Weight};

/// Why a kit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OutreachError {
    /// The config names no public URL, so there is nothing to print or encode.
    #[error(
        "setting reporter.public_url is not set: the outreach kit prints the intake's address and its QR code, so add `public_url = \"https://...\"` under [reporter] in the config file"
    )]
    NoPublicUrl,
    /// An embedded font did not parse (a broken build).
    #[error("the embedded font {0} cannot be read")]
    Font(String),
    /// The URL does not fit in a QR code.
    #[error("cannot make the QR code: {0}")]
    Qr(String),
    /// The texts do not fit on the page (a unit name or URL near the limits on a small page).
    #[error("the {0} does not fit on its page; shorten unit.name or reporter.public_url")]
    Overflow(&'static str),
}

/// What the kit prints, taken from the config.
#[derive(Debug, Clone)]
pub struct Kit {
    unit_name: String,
    url: String,
    onion: Option<String>,
}

impl Kit {
    /// The kit for `cfg`; refused when `reporter.public_url` is not set.
    pub fn from_config(cfg: &Config) -> Result<Kit, OutreachError> {
        let url = cfg
            .reporter
            .public_url
            .clone()
            .ok_or(OutreachError::NoPublicUrl)?;
        // When the public URL is the onion itself, the onion line would only repeat it.
        let onion = cfg.reporter.onion_address.clone().filter(|o| {
            url::Url::parse(&url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .as_deref()
                != Some(o)
        });
        Ok(Kit {
            unit_name: cfg.unit.name.clone(),
            url,
            onion,
        })
    }
}

/// Paper sizes, portrait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// 210 × 297 mm.
    A4,
    /// 297 × 420 mm.
    A3,
    /// 148 × 210 mm.
    A5,
}

impl Paper {
    /// Width and height in points.
    fn size(self) -> (f32, f32) {
        let pt = |mm: f32| mm * 72.0 / 25.4;
        match self {
            Paper::A4 => (pt(210.0), pt(297.0)),
            Paper::A3 => (pt(297.0), pt(420.0)),
            Paper::A5 => (pt(148.0), pt(210.0)),
        }
    }

    /// The ISO name, for titles and messages.
    pub fn name(self) -> &'static str {
        match self {
            Paper::A4 => "A4",
            Paper::A3 => "A3",
            Paper::A5 => "A5",
        }
    }
}

/// The intake's four safety steps, in the order the home page gives them.
fn safety_steps(t: &Intake) -> [&'static str; 4] {
    [
        t.safety_device,
        t.safety_tor,
        t.safety_history,
        t.safety_tell,
    ]
}

/// "Scan or type": the line above the URL.
const SCAN: &str = "Pindai kode QR dengan kamera HP, atau ketik alamat ini di browser:";
/// The leaflet's last line on what happens to a report: the code on paper, as the code page
/// says it.
const LEAFLET_CODE: &str = "Catat kode 20 angka yang Anda terima di kertas, bukan di HP. Jangan difoto dan jangan dikirim lewat pesan.";

const INK: Rgb3 = Rgb3(0.10, 0.10, 0.10);
const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);
/// A deep teal that prints well in colour and stays dark in greyscale.
const BAND: Rgb3 = Rgb3(0.04, 0.29, 0.33);
/// A pale yellow behind the notice: it must stand out, also on a greyscale copier.
const NOTICE: Rgb3 = Rgb3(1.0, 0.93, 0.70);

/// How much larger the leaflet's type is than the A4 design scaled down to A5.
const LEAFLET_ZOOM: f32 = 1.2;

/// A4 is the design size: A3 and A5 are the same page scaled by √2 either way, so every
/// measure below is in A4 points times the page's scale.
const A4_WIDTH: f32 = 595.276;

/// Lays out blocks from the top of a page down.
struct Flow<'d> {
    doc: &'d Doc,
    page: Page,
    /// Scale of type and gaps relative to the A4 design.
    s: f32,
    /// The baseline cursor, in points from the bottom.
    y: f32,
    margin: f32,
}

impl<'d> Flow<'d> {
    /// `zoom` enlarges type and gaps beyond the paper's scale (a leaflet is read in the hand,
    /// closer than a poster but on a smaller page); the margins follow the paper alone.
    fn new(doc: &'d Doc, paper: Paper, zoom: f32) -> Flow<'d> {
        let (w, h) = paper.size();
        let s = w / A4_WIDTH;
        Flow {
            doc,
            page: doc.page(w, h),
            s: s * zoom,
            y: h,
            margin: 42.0 * s,
        }
    }

    fn content_width(&self) -> f32 {
        self.page.width - 2.0 * self.margin
    }

    fn gap(&mut self, a4_points: f32) {
        self.y -= a4_points * self.s;
    }

    /// Wraps `text` to `width` and draws it from the cursor down; `size` is in A4 points.
    #[allow(clippy::too_many_arguments)]
    fn text_in(
        &mut self,
        w: Weight,
        size: f32,
        colour: Rgb3,
        left: f32,
        width: f32,
        align: Align,
        text: &str,
    ) {
        let size = size * self.s;
        let leading = size * 1.3;
        for line in self.doc.wrap(w, size, text, width) {
            self.y -= leading;
            let lw = self.doc.width(w, size, &line);
            let x = match align {
                Align::Left => left,
                Align::Centre => left + width / 2.0,
            };
            self.page.line(
                w,
                size,
                colour,
                x,
                self.y + leading - size,
                lw,
                align,
                &line,
            );
        }
    }

    fn text(&mut self, w: Weight, size: f32, colour: Rgb3, align: Align, text: &str) {
        let (left, width) = (self.margin, self.content_width());
        self.text_in(w, size, colour, left, width, align, text);
    }

    /// Height in points that `text` takes when wrapped to `width`.
    fn height_of(&self, w: Weight, size: f32, width: f32, text: &str) -> f32 {
        let size = size * self.s;
        self.doc.wrap(w, size, text, width).len() as f32 * size * 1.3
    }

    /// The first of `sizes` (A4 points, largest first) at which bold `text` takes at most
    /// `lines` lines across the page, else the last.
    fn fitting(&self, sizes: &[f32], text: &str, lines: usize) -> f32 {
        let width = self.content_width();
        sizes
            .iter()
            .copied()
            .find(|&size| {
                self.doc
                    .wrap(Weight::Bold, size * self.s, text, width)
                    .len()
                    <= lines
            })
            .unwrap_or(sizes[sizes.len() - 1])
    }

    /// The coloured band at the top: the unit's name and the headline, in white.
    fn band(&mut self, unit: &str, headline: &str) {
        let inner = self.content_width();
        let pad = 24.0 * self.s;
        let h = pad
            + self.height_of(Weight::Bold, 17.0, inner, unit)
            + 8.0 * self.s
            + self.height_of(Weight::Bold, 30.0, inner, headline)
            + pad;
        let top = self.page.height;
        self.page.rect(BAND, 0.0, top - h, self.page.width, h);
        self.gap(24.0);
        self.text(Weight::Bold, 17.0, WHITE, Align::Centre, unit);
        self.gap(8.0);
        self.text(Weight::Bold, 30.0, WHITE, Align::Centre, headline);
        self.y = top - h;
    }

    /// The QR code, centred, `a4_side` A4 points wide.
    fn qr(&mut self, url: &str, a4_side: f32) -> Result<(), OutreachError> {
        let side = a4_side * self.s;
        let x = (self.page.width - side) / 2.0;
        self.page.qr(url, x, self.y, side)?;
        self.y -= side;
        Ok(())
    }

    /// How to reach the intake: the line above, the URL, and the onion address when set.
    fn address(&mut self, kit: &Kit, t: &Intake) {
        self.text(Weight::Regular, 11.0, INK, Align::Centre, SCAN);
        self.gap(4.0);
        // A person types these from the paper: as large as lets the URL take two lines at
        // most and the onion address one.
        let size = self.fitting(&[17.0, 15.0, 13.0, 11.0], &kit.url, 2);
        self.text(Weight::Bold, size, BAND, Align::Centre, &kit.url);
        if let Some(onion) = &kit.onion {
            self.gap(8.0);
            self.text(Weight::Regular, 10.0, INK, Align::Centre, t.safety_onion);
            self.gap(2.0);
            let size = self.fitting(&[10.5, 9.5, 8.5], onion, 1);
            self.text(Weight::Bold, size, INK, Align::Centre, onion);
        }
    }

    /// The fixed notice on a pale box: BNNK never asks for a name, a number or a meeting.
    fn notice(&mut self, t: &Intake) {
        let pad = 12.0 * self.s;
        let inner = self.content_width() - 2.0 * pad;
        let h = 2.0 * pad
            + self.height_of(Weight::Bold, 14.0, inner, t.never_ask)
            + 4.0 * self.s
            + self.height_of(Weight::Regular, 11.0, inner, t.never_ask_more);
        let top = self.y;
        self.page
            .rect(NOTICE, self.margin, top - h, self.content_width(), h);
        self.y -= pad;
        let left = self.margin + pad;
        self.text_in(
            Weight::Bold,
            14.0,
            INK,
            left,
            inner,
            Align::Centre,
            t.never_ask,
        );
        self.gap(4.0);
        self.text_in(
            Weight::Regular,
            11.0,
            INK,
            left,
            inner,
            Align::Centre,
            t.never_ask_more,
        );
        self.y = top - h;
    }

    /// The four safety steps, numbered, with a hanging indent.
    fn steps(&mut self, t: &Intake) {
        self.text(Weight::Bold, 15.0, BAND, Align::Left, t.safety_title);
        self.gap(4.0);
        let indent = 20.0 * self.s;
        for (i, step) in safety_steps(t).iter().enumerate() {
            self.gap(3.0);
            let before = self.y;
            let size = 12.0 * self.s;
            self.page.line(
                Weight::Bold,
                size,
                BAND,
                self.margin,
                before - size,
                0.0,
                Align::Left,
                &format!("{}.", i + 1),
            );
            let (left, width) = (self.margin + indent, self.content_width() - indent);
            self.text_in(Weight::Regular, 12.0, INK, left, width, Align::Left, step);
        }
    }

    /// The legal protection, one sentence (UU No. 35/2009, Pasal 100, as the intake says it).
    fn law(&mut self, t: &Intake) {
        self.text(Weight::Bold, 10.5, INK, Align::Left, t.law_title);
        self.gap(1.0);
        self.text(Weight::Regular, 9.5, INK, Align::Left, t.law_100);
    }

    /// The page, or [`OutreachError::Overflow`] when the cursor ran into the bottom margin.
    fn done(self, what: &'static str) -> Result<Page, OutreachError> {
        if self.y < self.margin * 0.5 {
            return Err(OutreachError::Overflow(what));
        }
        Ok(self.page)
    }
}

/// QR code sides to try, in A4 points, largest first: a long unit name or URL takes room,
/// and the code gives it up before the texts do. 150 points is still 53 mm on A4.
const QR_SIDES: [f32; 4] = [220.0, 195.0, 170.0, 150.0];

/// The first page `layout` manages with the largest QR code that lets everything fit.
fn fitted(
    mut layout: impl FnMut(f32) -> Result<Page, OutreachError>,
) -> Result<Page, OutreachError> {
    let mut last = None;
    for side in QR_SIDES {
        match layout(side) {
            Err(e @ OutreachError::Overflow(_)) => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or(OutreachError::Overflow("page")))
}

/// A one-page poster on `paper` (A4 or A3; A5 works too, but the leaflet suits it better).
pub fn poster(kit: &Kit, paper: Paper) -> Result<Vec<u8>, OutreachError> {
    let t = &Intake::ID;
    let mut doc = Doc::new(&format!("{}: poster {}", kit.unit_name, paper.name()))?;
    let page = fitted(|qr| {
        let mut f = Flow::new(&doc, paper, 1.0);
        f.band(&kit.unit_name, t.home_title);
        f.gap(16.0);
        f.text(Weight::Regular, 13.0, INK, Align::Centre, t.home_intro);
        f.gap(12.0);
        f.qr(&kit.url, qr)?;
        f.gap(4.0);
        f.address(kit, t);
        f.gap(18.0);
        f.notice(t);
        f.gap(18.0);
        f.steps(t);
        f.gap(16.0);
        f.law(t);
        f.done("poster")
    })?;
    doc.push(page);
    Ok(doc.finish())
}

/// An A5 leaflet, front and back: the front says what the service is and how to reach it, the
/// back how to stay safe, what happens to a report, and the law.
pub fn leaflet(kit: &Kit) -> Result<Vec<u8>, OutreachError> {
    let t = &Intake::ID;
    let mut doc = Doc::new(&format!("{}: leaflet A5", kit.unit_name))?;
    let front = fitted(|qr| {
        let mut f = Flow::new(&doc, Paper::A5, LEAFLET_ZOOM);
        f.band(&kit.unit_name, t.home_title);
        f.gap(16.0);
        f.text(Weight::Regular, 12.0, INK, Align::Centre, t.home_intro);
        f.gap(14.0);
        f.qr(&kit.url, qr * 0.95)?;
        f.gap(6.0);
        f.address(kit, t);
        f.gap(18.0);
        f.notice(t);
        f.done("leaflet's front")
    })?;

    let mut f = Flow::new(&doc, Paper::A5, LEAFLET_ZOOM);
    f.gap(30.0);
    f.steps(t);
    f.gap(18.0);
    f.text(Weight::Bold, 15.0, BAND, Align::Left, t.home_what_title);
    f.gap(4.0);
    for line in [t.home_what_1, t.home_what_2, t.home_what_3, LEAFLET_CODE] {
        f.gap(4.0);
        f.text(Weight::Regular, 12.0, INK, Align::Left, line);
    }
    f.gap(18.0);
    f.notice(t);
    f.gap(18.0);
    f.law(t);
    f.gap(12.0);
    f.text(Weight::Bold, 11.0, BAND, Align::Left, &kit.url);
    let back = f.done("leaflet's back")?;

    doc.push(front);
    doc.push(back);
    Ok(doc.finish())
}

/// About 150 words for a counsellor's talk or an announcement after the Friday sermon: what
/// the service is, that it is anonymous, how to reach it, and not to report through a
/// neighbour or a group chat (a tip passed on by word of mouth names whoever passed it on).
pub fn announcement(kit: &Kit) -> String {
    let unit = &kit.unit_name;
    let url = &kit.url;
    let onion = match &kit.onion {
        Some(o) => format!(" Bagi yang memakai Tor Browser, alamatnya {o}."),
        None => String::new(),
    };
    format!(
        "Pengumuman dari {unit}\n\
\n\
Bapak, Ibu, dan saudara-saudara yang kami hormati. Narkoba merusak keluarga dan masa depan \
anak-anak kita. {unit} membuka layanan lapor narkoba tanpa identitas. Siapa pun yang mengetahui \
peredaran, pemakaian, atau tempat meracik narkoba dapat melaporkannya secara rahasia, tanpa \
menyebutkan nama. Layanan ini tidak mencatat alamat IP, perangkat, atau lokasi pelapor.\n\
\n\
Caranya: buka alamat {url} dengan HP atau komputer pribadi, lalu isi formulirnya.{onion} \
Setelah mengirim, pelapor menerima kode 20 angka untuk melihat perkembangan laporan. Catatlah \
kode itu di kertas dan simpan baik-baik.\n\
\n\
{NOT_THROUGH_OTHERS} Laporkan sendiri, langsung lewat alamat tadi, dan jangan ceritakan kepada \
siapa pun.\n\
\n\
{never_ask} Undang-Undang Nomor 35 Tahun 2009 tentang Narkotika mewajibkan negara melindungi \
pelapor dan keluarganya dari ancaman. Terima kasih.\n",
        never_ask = Intake::ID.never_ask,
    )
}

/// The sentence the announcement must carry (issue 10): a tip relayed by a neighbour or posted
/// in a group chat is seen by people who can tell who sent it.
pub const NOT_THROUGH_OTHERS: &str = "Mohon jangan melapor lewat tetangga, perantara, atau grup WhatsApp dan grup percakapan lainnya, karena cara itu dapat membuka siapa pelapornya.";

#[cfg(test)]
mod tests {
    use super::*;

    fn kit(name: &str, url: &str, onion: Option<&str>) -> Kit {
        Kit {
            unit_name: name.into(),
            url: url.into(),
            onion: onion.map(Into::into),
        }
    }

    /// The longest unit name and URL the config allows still fit every page.
    #[test]
    fn the_longest_settings_fit_every_page() {
        let onion = format!("{}.onion", "a".repeat(56));
        let long = kit(
            &"Badan Narkotika Nasional Kabupaten ".repeat(3)[..crate::config::UNIT_NAME_MAX],
            &format!("https://lapor.{}.go.id/", "x".repeat(200 - 23)),
            Some(&onion),
        );
        for paper in [Paper::A4, Paper::A3] {
            poster(&long, paper).unwrap();
        }
        leaflet(&long).unwrap();
    }

    #[test]
    fn announcement_is_about_150_words() {
        let k = kit(
            "BNNK Hulu Sungai Selatan",
            "https://lapor.bnnk-hss.go.id/",
            Some(&format!("{}.onion", "b".repeat(56))),
        );
        let text = announcement(&k);
        let words = text.split_whitespace().count();
        assert!((120..=180).contains(&words), "{words} words:\n{text}");
        assert!(text.contains(NOT_THROUGH_OTHERS));
    }
}
