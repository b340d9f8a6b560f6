//! The language of a page and the one catalogue of its strings.
//!
//! The language comes from the request's path or `?lang=` only: never from a cookie (the intake
//! sets one cookie, for a follow-up session, and it says nothing about the person) and never from
//! Accept-Language (a header the intake does not read, I2). Bahasa Indonesia is the default.
//!
//! A catalogue is a struct with one `&'static str` field per key, declared with [`catalogue!`]:
//! each key is written once with its Indonesian and its English text side by side, so a key
//! cannot exist in one language only, and templates name keys as fields (`t.form_title`), so a
//! misspelt key is a compile error. The unit test [`check`] holds every entry to more than the
//! compiler can: neither text empty, and both with the same placeholders. The desk declares its
//! own catalogue with the same macro and runs the same check.

/// The language of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Bahasa Indonesia (default).
    Id,
    /// English.
    En,
}

impl Lang {
    /// From the `lang` query parameter only: request headers such as Accept-Language are never
    /// consulted on the intake (I2).
    /// Matches on the primary subtag (RFC 5646), so `en`, `en-US` and `EN_gb` all give English.
    pub fn from_request(req: &actix_web::HttpRequest) -> Lang {
        Self::from_query(req.query_string())
    }

    /// From a raw query string (`a=b&lang=en`), as [`Lang::from_request`].
    pub fn from_query(query: &str) -> Lang {
        let wants_en = query.split('&').any(|kv| {
            kv.split_once('=').is_some_and(|(k, v)| {
                k == "lang"
                    && v.split(['-', '_'])
                        .next()
                        .is_some_and(|p| p.eq_ignore_ascii_case("en"))
            })
        });
        if wants_en { Lang::En } else { Lang::Id }
    }

    /// The BCP 47 tag, for `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    /// The query string that keeps this language on a link or form action: empty for the
    /// default, `?lang=en` for English.
    pub fn query(self) -> &'static str {
        match self {
            Lang::Id => "",
            Lang::En => "?lang=en",
        }
    }

    /// The other language (for the language link).
    pub fn other(self) -> Lang {
        match self {
            Lang::Id => Lang::En,
            Lang::En => Lang::Id,
        }
    }

    /// Both languages, default first.
    pub const ALL: [Lang; 2] = [Lang::Id, Lang::En];
}

/// Declares a catalogue struct: `catalogue! { /// doc\n pub struct Name { key: "id" / "en", ... } }`.
/// It gets one field per key, the constants `ID` and `EN`, `get(lang)`, and `entries()` (key,
/// Indonesian, English) for [`check`].
#[macro_export]
macro_rules! catalogue {
    ($(#[$m:meta])* pub struct $name:ident { $($key:ident : $id:literal / $en:literal),* $(,)? }) => {
        $(#[$m])*
        #[allow(missing_docs)]
        pub struct $name { $(pub $key: &'static str,)* }

        impl $name {
            /// Bahasa Indonesia.
            pub const ID: $name = $name { $($key: $id,)* };
            /// English.
            pub const EN: $name = $name { $($key: $en,)* };

            /// The catalogue for `lang`.
            pub fn get(lang: $crate::web::i18n::Lang) -> &'static $name {
                match lang {
                    $crate::web::i18n::Lang::Id => &Self::ID,
                    $crate::web::i18n::Lang::En => &Self::EN,
                }
            }

            /// Every entry as (key, Indonesian, English).
            pub fn entries() -> Vec<(&'static str, &'static str, &'static str)> {
                vec![$((stringify!($key), Self::ID.$key, Self::EN.$key),)*]
            }
        }
    };
}

/// Problems with a catalogue's entries, one line each; empty when it is complete.
pub fn check(entries: &[(&str, &str, &str)]) -> Vec<String> {
    fn placeholders(s: &str) -> Vec<&str> {
        let mut v: Vec<&str> = s
            .match_indices('{')
            .filter_map(|(i, _)| s[i..].find('}').map(|j| &s[i..=i + j]))
            .collect();
        v.sort_unstable();
        v
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (key, id, en) in entries {
        if !seen.insert(*key) {
            problems.push(format!("{key}: declared twice"));
        }
        if id.trim().is_empty() {
            problems.push(format!("{key}: missing in Bahasa Indonesia"));
        }
        if en.trim().is_empty() {
            problems.push(format!("{key}: missing in English"));
        }
        if placeholders(id) != placeholders(en) {
            problems.push(format!("{key}: placeholders differ between the languages"));
        }
    }
    problems
}

catalogue! {
    /// Every string of the reporter pages, in both languages.
    pub struct Intake {
        // On every page.
        quick_exit: "Keluar cepat" / "Quick exit",
        other_lang: "English" / "Bahasa Indonesia",
        home_link: "Beranda" / "Home",
        tor2web_warning: "Peringatan: Anda membuka layanan ini lewat proxy tor2web. Pemilik proxy itu dapat melihat alamat IP Anda dan membaca atau mengubah semua yang Anda kirim. Tutup halaman ini dan buka alamat .onion dengan Tor Browser." / "Warning: you reached this service through a tor2web proxy. Whoever runs that proxy can see your IP address and read or change everything you send. Close this page and open the .onion address in Tor Browser.",
        never_ask: "BNNK tidak akan pernah meminta nama, nomor HP, atau ajakan bertemu." / "BNNK will never ask for your name, your phone number or a meeting.",
        never_ask_more: "Jika ada yang memintanya atas nama BNNK, itu bukan kami: jangan ditanggapi." / "If anyone asks for them in BNNK's name, it is not us: do not answer.",

        // Home.
        home_title: "Lapor narkoba tanpa identitas" / "Report drugs without giving your identity",
        home_intro: "Lewat layanan ini Anda dapat melaporkan peredaran atau penyalahgunaan narkoba kepada BNNK tanpa menyebutkan siapa Anda. Layanan ini tidak mencatat alamat IP, perangkat, atau lokasi Anda." / "Through this service you can report drug dealing or drug abuse to BNNK without saying who you are. The service does not record your IP address, your device or your location.",
        home_what_title: "Apa yang terjadi dengan laporan Anda" / "What happens to your report",
        home_what_1: "Laporan Anda dienkripsi begitu diterima. Hanya petugas BNNK yang berwenang yang dapat membukanya." / "Your report is encrypted as soon as it arrives. Only authorised BNNK staff can open it.",
        home_what_2: "Petugas memeriksa laporan, mencocokkannya dengan informasi lain, lalu dapat menindaklanjutinya dengan penyelidikan." / "The staff read the report, compare it with other information, and may follow it up with an investigation.",
        home_what_3: "Anda menerima kode 20 angka. Dengan kode itu Anda dapat melihat status laporan dan menjawab pertanyaan petugas tanpa pernah menyebutkan siapa Anda." / "You receive a 20-digit code. With it you can see the status of your report and answer the staff's questions without ever saying who you are.",
        law_title: "Perlindungan hukum bagi pelapor" / "Legal protection for reporters",
        law_99: "UU No. 35 Tahun 2009 tentang Narkotika, Pasal 99: di sidang pengadilan, saksi dan orang lain dilarang menyebutkan nama dan alamat pelapor, atau hal yang dapat mengungkap identitas pelapor." / "Law No. 35 of 2009 on Narcotics, Article 99: in court, witnesses and others may not state the reporter's name or address, or anything that could reveal the reporter's identity.",
        law_100: "UU No. 35 Tahun 2009 tentang Narkotika, Pasal 100: pelapor beserta keluarganya wajib diberi perlindungan oleh negara dari ancaman yang membahayakan diri, jiwa, dan hartanya, sebelum, selama, dan sesudah pemeriksaan perkara." / "Law No. 35 of 2009 on Narcotics, Article 100: the state must protect reporters and their families from threats to their safety, life and property, before, during and after the case is heard.",
        law_10: "UU No. 31 Tahun 2014 tentang Perlindungan Saksi dan Korban, Pasal 10: pelapor tidak dapat dituntut secara hukum, baik pidana maupun perdata, atas laporan yang diberikannya dengan iktikad baik." / "Law No. 31 of 2014 on the Protection of Witnesses and Victims, Article 10: a reporter cannot be prosecuted, criminally or civilly, for a report made in good faith.",
        safety_title: "Tetap aman" / "Stay safe",
        safety_device: "Gunakan HP atau komputer pribadi, bukan milik kantor atau orang lain." / "Use your own phone or computer, not one from work or one that belongs to someone else.",
        safety_tor: "Jika bisa, gunakan Tor Browser." / "Use Tor Browser if you can.",
        safety_onion: "Alamat onion layanan ini (ketik di Tor Browser):" / "This service's onion address (type it into Tor Browser):",
        safety_history: "Setelah selesai, hapus riwayat penjelajahan." / "When you are done, clear your browsing history.",
        safety_tell: "Jangan ceritakan kepada siapa pun bahwa Anda melapor." / "Tell no one that you made a report.",
        btn_report: "Buat laporan" / "Make a report",
        btn_check: "Cek laporan" / "Check a report",

        // Report form.
        form_title: "Buat laporan" / "Make a report",
        form_intro: "Isi sebanyak yang Anda ketahui. Hanya kolom keterangan yang wajib diisi." / "Fill in as much as you know. Only the description is required.",
        form_no_name: "Jangan tulis nama Anda sendiri, nomor HP Anda, atau hal lain yang dapat menunjukkan siapa Anda." / "Do not write your own name, your phone number or anything else that could show who you are.",
        form_errors: "Laporan belum terkirim. Periksa kolom yang ditandai di bawah." / "The report has not been sent. Check the fields marked below.",
        form_files_again: "Berkas yang Anda pilih belum terkirim dan tidak disimpan. Pilih lagi sebelum mengirim." / "The files you chose were not sent and were not kept. Choose them again before sending.",
        required: "wajib" / "required",
        f_category: "Jenis laporan" / "Kind of report",
        f_category_help: "Pilih yang paling mendekati." / "Choose the closest one.",
        f_area: "Kecamatan" / "District (kecamatan)",
        f_area_help: "Kecamatan tempat kejadian, jika Anda tahu." / "The district where it happens, if you know.",
        f_area_none: "Tidak tahu / tidak ingin menyebutkan" / "Don't know / prefer not to say",
        f_location: "Lokasi" / "Location",
        f_location_help: "Jalan, desa, tempat, atau ciri bangunan. Contoh: rumah bercat hijau di samping masjid." / "Street, village, place or what the building looks like. For example: the green house next to the mosque.",
        f_when: "Waktu" / "When",
        f_when_help: "Tanggal, hari, jam, atau seberapa sering. Contoh: setiap malam Sabtu sekitar jam 10." / "Date, day, time, or how often. For example: every Friday night around 10 pm.",
        f_people: "Orang yang terlibat" / "People involved",
        f_people_help: "Nama panggilan, ciri-ciri, pakaian, atau perannya (penjual, kurir). Bukan nama Anda sendiri." / "Nicknames, what they look like, clothes, or their role (seller, courier). Not your own name.",
        f_vehicles: "Kendaraan" / "Vehicles",
        f_vehicles_help: "Jenis, warna, dan nomor polisi. Contoh: motor matik hitam, DA 1234 XY." / "Type, colour and number plate. For example: black scooter, DA 1234 XY.",
        f_files: "Foto atau berkas (tidak wajib)" / "Photos or files (optional)",
        f_files_help: "Foto JPEG, PNG atau WebP dan teks biasa dibersihkan dari metadata (lokasi GPS, jenis kamera) sebelum disimpan. Jangan kirim foto yang memperlihatkan diri Anda, rumah Anda, atau kendaraan Anda." / "JPEG, PNG or WebP photos and plain text are cleaned of metadata (GPS location, camera model) before they are stored. Do not send a photo that shows you, your home or your vehicle.",
        f_files_limit: "Paling banyak" / "At most",
        f_file: "Berkas" / "File",
        f_consent: "Metadata dalam berkas ini tidak dapat dihapus (untuk PDF, video, rekaman suara)" / "The metadata in this file cannot be removed (for PDF, video, voice recordings)",
        f_description: "Keterangan" / "Description",
        f_description_help: "Apa yang terjadi? Ceritakan apa yang Anda lihat atau dengar, dengan kata-kata Anda sendiri." / "What is happening? Tell us what you saw or heard, in your own words.",
        hp_label: "Jangan isi kolom ini" / "Leave this field empty",
        btn_send: "Kirim" / "Send",
        err_too_long: "Teks terlalu panjang: paling banyak {max} karakter." / "The text is too long: at most {max} characters.",
        err_characters: "Teks berisi karakter yang tidak diizinkan." / "The text contains characters that are not allowed.",
        err_contains_code: "Teks ini tampaknya berisi kode tindak lanjut (20 angka). Jangan pernah menulis kode Anda di dalam teks: siapa pun yang membacanya dapat memakainya. Hapus angka itu lalu kirim lagi." / "This text seems to contain a follow-up code (20 digits). Never write your code in a text: anyone who reads it could use it. Remove the number and send again.",
        err_description_required: "Keterangan wajib diisi: ceritakan apa yang Anda ketahui." / "A description is required: tell us what you know.",
        err_unknown_choice: "Pilihan ini tidak dikenal. Pilih salah satu dari daftar." / "This choice is not known. Pick one from the list.",
        err_form_expired: "Formulir ini sudah tidak berlaku. Buka formulir lagi lalu kirim." / "This form is no longer valid. Open the form again and send it.",

        // Code page.
        code_title: "Laporan Anda sudah diterima" / "Your report has been received",
        code_label: "Kode tindak lanjut Anda" / "Your follow-up code",
        code_what: "Dengan kode ini Anda dapat melihat status laporan dan menjawab pertanyaan petugas." / "With this code you can see the status of your report and answer the staff's questions.",
        code_write: "Catat kode ini di kertas, seperti mencatat token listrik, dan simpan di tempat yang aman. Kode ini hanya ditampilkan sekali ini dan tidak dapat dipulihkan." / "Write this code down on paper, like an electricity token, and keep it somewhere safe. It is shown only this once and cannot be recovered.",
        code_secret: "Siapa pun yang memegang kode ini dapat membaca percakapan Anda. Jangan difoto, jangan disimpan di HP, dan jangan dikirim lewat pesan." / "Anyone who holds this code can read your conversation. Do not photograph it, do not keep it on your phone, and do not send it in a message.",
        code_confirm: "Saya sudah mencatat kode" / "I have written down the code",

        // After the code.
        done_title: "Terima kasih" / "Thank you",
        done_body: "Laporan Anda sudah tersimpan. Periksa kembali dalam beberapa hari dengan kode Anda: petugas mungkin mengajukan pertanyaan." / "Your report is stored. Check back in a few days with your code: the staff may have questions.",
        done_history: "Sekarang hapus riwayat penjelajahan, atau tutup Tor Browser." / "Now clear your browsing history, or close Tor Browser.",

        // Code entry.
        check_title: "Cek laporan" / "Check a report",
        check_intro: "Masukkan kode 20 angka yang Anda terima saat melapor." / "Enter the 20-digit code you received when you made the report.",
        f_code: "Kode tindak lanjut" / "Follow-up code",
        f_code_help: "Spasi dan tanda hubung boleh ikut diketik." / "Spaces and dashes may be typed too.",
        btn_open: "Buka" / "Open",

        // The follow-up.
        view_title: "Laporan Anda" / "Your report",
        status_label: "Status laporan" / "Report status",
        status_received: "Diterima" / "Received",
        status_needs_info: "Petugas membutuhkan informasi tambahan" / "The staff need more information",
        status_closed: "Selesai ditangani" / "Closed",
        conv_title: "Percakapan" / "Conversation",
        conv_newest_first: "Pesan terbaru di atas." / "Newest messages first.",
        conv_empty: "Belum ada pesan." / "No messages yet.",
        from_reporter: "Anda" / "You",
        from_staff: "Petugas BNNK" / "BNNK staff",
        pages_label: "Halaman percakapan" / "Conversation pages",
        older_link: "Pesan lebih lama" / "Older messages",
        newer_link: "Pesan lebih baru" / "Newer messages",
        reply_title: "Kirim pesan" / "Send a message",
        f_reply: "Pesan" / "Message",
        f_reply_help: "Jawab pertanyaan petugas atau tambahkan informasi. Jangan tulis kode Anda di sini." / "Answer the staff's questions or add information. Do not write your code here.",
        err_reply_required: "Pesan tidak boleh kosong." / "The message may not be empty.",
        err_reply_cut: "Di bawah ini hanya {max} karakter pertama dari teks Anda; sisanya tidak ditampilkan lagi." / "Only the first {max} characters of your text are shown below; the rest is not shown again.",
        sent_notice: "Pesan Anda sudah terkirim." / "Your message has been sent.",
        session_note: "Demi keamanan, sesi ini berakhir sendiri jika lama tidak dipakai." / "For your safety, this session ends by itself when left unused.",
        revoke_link: "Hapus akses" / "Remove access",
        logout_btn: "Keluar" / "Log out",

        // Remove access.
        revoke_title: "Hapus akses?" / "Remove access?",
        revoke_explain: "Setelah akses dihapus, kode Anda tidak akan berfungsi lagi, untuk selamanya. Anda tidak akan dapat membaca jawaban petugas. Laporan Anda tetap tersimpan dan tetap ditangani." / "Once access is removed, your code will never work again. You will not be able to read the staff's answers. Your report stays stored and will still be handled.",
        revoke_confirm: "Ya, hapus akses" / "Yes, remove access",
        revoke_cancel: "Batal, kembali ke laporan" / "Cancel, back to the report",
        revoked_title: "Akses sudah dihapus" / "Access removed",
        revoked_body: "Kode Anda tidak berfungsi lagi. Buang catatan kode Anda, lalu hapus riwayat penjelajahan." / "Your code no longer works. Throw away your note of the code, then clear your browsing history.",

        // Log out and expiry.
        logout_title: "Anda sudah keluar" / "You have logged out",
        logout_body: "Hapus riwayat penjelajahan. Jika memakai Tor Browser, pilih New Identity (Identitas Baru) di menunya." / "Clear your browsing history. If you use Tor Browser, choose New Identity in its menu.",
        expired_title: "Sesi sudah berakhir" / "The session has ended",
        expired_body: "Demi keamanan, sesi berakhir sendiri. Masukkan kode Anda lagi untuk melanjutkan." / "For your safety, sessions end by themselves. Enter your code again to continue.",

        // Errors.
        error_title: "Permintaan tidak dapat diproses" / "The request could not be processed",
        hp_title: "Laporan TIDAK terkirim" / "The report was NOT sent",
        hp_body: "Formulir ini punya kolom tersembunyi yang harus kosong, dan kolom itu terisi, mungkin oleh isi otomatis browser. Karena itu laporan Anda tidak dikirim dan tidak disimpan. Kembali, matikan isi otomatis jika bisa, lalu kirim lagi." / "This form has a hidden field that must stay empty, and it was filled in, perhaps by the browser's autofill. So your report was not sent and not stored. Go back, turn autofill off if you can, and send again.",
        cross_site_body: "Permintaan ini datang dari situs lain, jadi ditolak. Buka layanan ini langsung lalu coba lagi." / "This request came from another site, so it was refused. Open this service directly and try again.",
        csrf_body: "Formulir ini tidak cocok dengan sesi Anda. Buka halaman laporan lagi lalu coba lagi." / "This form does not match your session. Open the report page again and retry.",
        notfound_title: "Halaman tidak ditemukan" / "Page not found",
        notfound_body: "Alamat ini tidak ada." / "There is nothing at this address.",
        back_home: "Kembali ke beranda" / "Back to the home page",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_catalogue_is_complete_in_both_languages() {
        let problems = check(&Intake::entries());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert!(Intake::entries().len() > 50);
    }

    #[test]
    fn the_check_finds_a_missing_text_and_mismatched_placeholders() {
        let bad = [
            ("a", "teks", ""),
            ("b", "", "text"),
            ("c", "paling {max}", "at most"),
            ("c", "x", "y"),
        ];
        let problems = check(&bad);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn language_comes_from_the_query_only() {
        assert_eq!(Lang::from_query(""), Lang::Id);
        assert_eq!(Lang::from_query("lang=en"), Lang::En);
        assert_eq!(Lang::from_query("hal=2&lang=en-US"), Lang::En);
        assert_eq!(Lang::from_query("lang=id"), Lang::Id);
        assert_eq!(Lang::from_query("xlang=en"), Lang::Id);
    }
}
