//! The desk's messages, in Bahasa Indonesia first and English alongside. Page labels live in
//! the templates (templates/desk/); what a handler says lives here, so the two languages stay
//! side by side and a later shared catalogue (src/web/i18n.rs) can take them over whole.

/// A message in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// Bahasa Indonesia.
    pub id: &'static str,
    /// English.
    pub en: &'static str,
}

const fn t(id: &'static str, en: &'static str) -> Text {
    Text { id, en }
}

/// Any failed login: the same words whether the name, the password or the code was wrong.
pub const LOGIN_FAILED: Text = t(
    "Nama pengguna, kata sandi, atau kode TOTP salah.",
    "Wrong user name, password or TOTP code.",
);
/// Back-off in force.
pub const LOGIN_THROTTLED: Text = t(
    "Terlalu banyak percobaan gagal untuk akun ini. Tunggu sebentar, lalu coba lagi.",
    "Too many failed attempts for this account. Wait a little, then try again.",
);
/// The KDF pool's queue is full.
pub const BUSY: Text = t(
    "Server sedang sibuk. Coba lagi sebentar lagi.",
    "The server is busy. Try again shortly.",
);
/// Not logged in.
pub const PLEASE_LOG_IN: Text = t("Silakan masuk.", "Please log in.");
/// Session timed out.
pub const SESSION_EXPIRED: Text = t(
    "Sesi Anda telah berakhir. Silakan masuk lagi.",
    "Your session has expired. Please log in again.",
);
/// After logout.
pub const LOGGED_OUT: Text = t("Anda telah keluar.", "You have logged out.");
/// Wrong role.
pub const FORBIDDEN: Text = t(
    "Akses ditolak: peran Anda tidak membuka halaman ini.",
    "Access denied: your role does not open this page.",
);
/// CSRF token missing or wrong.
pub const CSRF: Text = t(
    "Formulir ini tidak sah atau sudah kedaluwarsa (token formulir tidak cocok). Muat ulang halaman, lalu kirim lagi.",
    "This form is invalid or stale (the form token does not match). Reload the page and send it again.",
);
/// Cross-site POST before a session.
pub const CROSS_SITE: Text = t(
    "Permintaan dari situs lain ditolak.",
    "A request from another site was refused.",
);
/// Password shorter than 12.
pub const PASSWORD_SHORT: Text = t(
    "Kata sandi baru minimal 12 karakter.",
    "The new password must be at least 12 characters long.",
);
/// zxcvbn score below 3.
pub const PASSWORD_WEAK: Text = t(
    "Kata sandi baru terlalu mudah ditebak. Pakai beberapa kata yang tidak berhubungan, bukan nama, tanggal atau pola keyboard.",
    "The new password is too easy to guess. Use several unrelated words, not names, dates or keyboard patterns.",
);
/// Confirmation differs.
pub const PASSWORD_MISMATCH: Text = t(
    "Kedua kata sandi baru tidak sama.",
    "The two new passwords differ.",
);
/// Current password wrong on change.
pub const PASSWORD_CURRENT_WRONG: Text = t(
    "Kata sandi saat ini salah.",
    "The current password is wrong.",
);
/// Password changed.
pub const PASSWORD_CHANGED: Text = t("Kata sandi telah diganti.", "The password was changed.");
/// TOTP wrong at enrolment.
pub const TOTP_WRONG: Text = t(
    "Kode TOTP salah. Periksa jam ponsel Anda, lalu masukkan kode yang sedang tampil.",
    "Wrong TOTP code. Check your phone's clock, then enter the code it shows now.",
);
/// Enrolment raced or was already done.
pub const ENROL_DONE_ALREADY: Text = t(
    "Akun ini sudah didaftarkan. Silakan masuk.",
    "This account has already enrolled. Please log in.",
);
/// Account added.
pub const ACCOUNT_ADDED: Text = t(
    "Akun dibuat. Serahkan kata sandi sekali pakai ini secara langsung; ia tidak akan ditampilkan lagi.",
    "Account created. Hand over this one-time password in person; it will not be shown again.",
);
/// Account reset.
pub const ACCOUNT_RESET: Text = t(
    "Akun disetel ulang: kuncinya dipensiunkan. Serahkan kata sandi sekali pakai ini secara langsung.",
    "Account reset: its keys are retired. Hand over this one-time password in person.",
);
/// Account disabled.
pub const ACCOUNT_DISABLED: Text = t(
    "Akun dinonaktifkan; sesinya berakhir.",
    "Account disabled; its sessions have ended.",
);
/// Bad name.
pub const ACCOUNT_BAD_NAME: Text = t(
    "Nama akun 2 sampai 32 karakter: a-z, 0-9, '.', '_' atau '-', diawali huruf.",
    "Account names are 2 to 32 characters: a-z, 0-9, '.', '_' or '-', starting with a letter.",
);
/// Name taken.
pub const ACCOUNT_EXISTS: Text = t(
    "Nama akun itu sudah dipakai.",
    "That account name is taken.",
);
/// No such account.
pub const ACCOUNT_NO_SUCH: Text = t("Akun itu tidak ada.", "No such account.");
/// Bad role.
pub const ACCOUNT_BAD_ROLE: Text = t(
    "Peran harus admin, koordinator atau petugas.",
    "The role must be admin, supervisor or investigator.",
);
/// Something failed on the server.
pub const INTERNAL: Text = t(
    "Terjadi kesalahan di server. Coba lagi.",
    "Something went wrong on the server. Try again.",
);

/// A report id that is not a report id.
pub const BAD_REPORT_ID: Text = t(
    "Nomor laporan tidak valid.",
    "That is not a valid report number.",
);
/// No such report, or none this person can open: the same words.
pub const NO_REPORT: Text = t(
    "Laporan tidak ditemukan, atau tidak dibagikan kepada Anda.",
    "No such report, or it has not been shared with you.",
);
/// A report has no attachment by that number.
pub const NO_ATTACHMENT: Text = t("Lampiran tidak ditemukan.", "No such attachment.");
/// The session holds no unlocked keys, or the account has none.
pub const NO_KEYS: Text = t(
    "Akun Anda belum memiliki kunci. Masuk lagi, lalu coba lagi.",
    "Your account has no keys yet. Log in again, then try again.",
);
/// The acting key is not certified.
pub const NOT_CERTIFIED: Text = t(
    "Kunci Anda belum disertifikasi, jadi Anda belum dapat bertindak atas laporan.",
    "Your key is not certified yet, so you cannot act on reports.",
);
/// Share or unshare with a name that is no account.
pub const NO_ACCOUNT: Text = t("Akun itu tidak ada.", "There is no such account.");
/// Share with a disabled account.
pub const ACCOUNT_IS_DISABLED: Text = t("Akun itu dinonaktifkan.", "That account is disabled.");
/// Share with oneself.
pub const SHARE_SELF: Text = t(
    "Anda tidak dapat membagikan laporan kepada diri sendiri.",
    "You cannot share a report with yourself.",
);
/// The target has not logged in for the first time.
pub const TARGET_NOT_ENROLLED: Text = t(
    "Akun itu belum login pertama kali, jadi belum memiliki kunci.",
    "That account has not logged in for the first time, so it has no keys yet.",
);
/// Sharing with a supervisor the ceremony has not certified.
pub const TARGET_NOT_CERTIFIED: Text = t(
    "Koordinator itu belum disertifikasi dengan upacara kunci (bisik keys certify).",
    "That supervisor has not been certified in the key ceremony (bisik keys certify).",
);
/// Sharing with an admin.
pub const SHARE_ADMIN: Text = t(
    "Admin tidak pernah menerima laporan.",
    "Admins never receive reports.",
);
/// Unsharing a supervisor.
pub const UNSHARE_ONLY_INVESTIGATORS: Text = t(
    "Hanya akses petugas yang dapat dicabut di sini.",
    "Only an investigator's access can be removed here.",
);
/// An empty message or note.
pub const TEXT_EMPTY: Text = t("Teks tidak boleh kosong.", "The text must not be empty.");
/// A message or note over the limit.
pub const TEXT_TOO_LONG: Text = t(
    "Teks terlalu panjang (paling banyak 5.000 karakter).",
    "The text is too long (at most 5,000 characters).",
);
/// The report has a K_s this person holds no wrap of.
pub const NO_STAFF_KEY_WRAP: Text = t(
    "Anda belum menerima kunci catatan internal laporan ini. Minta koordinator membagikannya lagi.",
    "You have not received this report's internal-notes key. Ask the supervisor to share it again.",
);
/// A report failed an integrity check.
pub const REPORT_TAMPERED: Text = t(
    "PERINGATAN: laporan ini gagal pemeriksaan keutuhan dan mungkin telah diubah. Beri tahu koordinator; rinciannya ada di log server.",
    "WARNING: this report failed an integrity check and may have been altered. Tell the supervisor; the server log has the details.",
);
/// Shared.
pub const SHARED: Text = t("Laporan telah dibagikan.", "The report has been shared.");
/// Unshared.
pub const UNSHARED: Text = t(
    "Akses petugas ke laporan ini telah dicabut.",
    "The investigator's access to this report has been removed.",
);
/// A message to the reporter was sealed and stored.
pub const MESSAGE_SENT: Text = t(
    "Pesan terkirim. Pelapor akan melihatnya saat memeriksa laporan dengan kodenya.",
    "Message sent. The reporter will see it when they check the report with their code.",
);
/// A note was sealed and stored.
pub const NOTE_SAVED: Text = t(
    "Catatan internal disimpan. Pelapor tidak pernah melihatnya.",
    "Internal note saved. The reporter never sees it.",
);
/// Certifying an investigator needs their fingerprint.
pub const FINGERPRINT_NEEDED: Text = t(
    "Petugas ini belum disertifikasi. Minta petugas membacakan sidik kunci dari halaman berandanya, lalu isikan di kolom sidik kunci.",
    "This investigator is not certified yet. Ask them to read out the key fingerprint on their home page, then enter it in the fingerprint field.",
);
/// The fingerprint does not match the stored key.
pub const FINGERPRINT_MISMATCH: Text = t(
    "Sidik kunci tidak cocok dengan kunci akun ini. Jangan bagikan laporan; laporkan ke admin.",
    "The fingerprint does not match this account's key. Do not share the report; tell the admin.",
);
/// A status the report cannot move to from where it is.
pub const BAD_TRANSITION: Text = t(
    "Status laporan tidak dapat diubah ke status itu. Laporan yang ditutup hanya dapat dibuka kembali ke \"sedang ditinjau\".",
    "The report cannot move to that status. A closed report can only be reopened to \"in review\".",
);
/// Unknown status, reason or priority in a form.
pub const BAD_CHOICE: Text = t(
    "Pilihan status, alasan, atau prioritas tidak dikenal.",
    "Unknown status, reason or priority.",
);
/// Closing needs a reason.
pub const REASON_NEEDED: Text = t(
    "Pilih alasan penutupan: ditindaklanjuti, duplikat, informasi tidak cukup, atau laporan palsu.",
    "Choose why the report is closed: actioned, duplicate, insufficient information or false report.",
);
/// A reason on a status that is not a closure.
pub const REASON_ONLY_ON_CLOSE: Text = t(
    "Alasan hanya diisi saat laporan ditutup.",
    "A reason is given only when a report is closed.",
);
/// A duplicate needs its original.
pub const DUPLICATE_NEEDS_ORIGINAL: Text = t(
    "Laporan duplikat harus menyebut nomor laporan aslinya, yang dapat Anda buka.",
    "A duplicate must name the original report, one you can open.",
);
/// Only supervisors close, reopen, set priority or act in bulk.
pub const SUPERVISOR_ONLY: Text = t(
    "Hanya koordinator yang dapat menutup, membuka kembali, mengatur prioritas, atau mengubah banyak laporan sekaligus.",
    "Only a supervisor can close, reopen, set priority or change many reports at once.",
);
/// Nothing selected for a bulk action.
pub const NOTHING_SELECTED: Text = t(
    "Pilih paling sedikit satu laporan.",
    "Select at least one report.",
);
/// Too many selected for one bulk action.
pub const TOO_MANY_SELECTED: Text = t(
    "Terlalu banyak laporan dipilih sekaligus (paling banyak 500).",
    "Too many reports selected at once (500 at most).",
);
/// After a status or priority change.
pub const TRIAGE_SAVED: Text = t("Perubahan disimpan.", "The change was saved.");
/// A page number that is not one.
pub const BAD_PAGE: Text = t("Nomor halaman tidak valid.", "That is not a page number.");
/// The API cannot enrol: first login happens in the browser (the TOTP QR code).
pub const ENROL_IN_BROWSER: Text = t(
    "Akun ini belum didaftarkan. Masuk sekali di peramban untuk mengganti kata sandi dan memasang TOTP.",
    "This account is not enrolled yet. Log in once in the browser to change the password and set up TOTP.",
);
/// A search text over the limit.
pub const SEARCH_TOO_LONG: Text = t(
    "Teks pencarian terlalu panjang (paling banyak 200 karakter).",
    "The search text is too long (200 characters at most).",
);
/// `?template=` names no configured reply template.
pub const BAD_TEMPLATE: Text = t(
    "Templat balasan itu tidak ada dalam pengaturan.",
    "That reply template is not in the configuration.",
);
/// A label that is not configured.
pub const BAD_LABEL: Text = t(
    "Label itu tidak ada dalam pengaturan.",
    "That label is not in the configuration.",
);
/// After a labels change.
pub const LABELS_SAVED: Text = t("Label disimpan.", "The labels were saved.");
/// A figures month that is not `YYYY-MM`.
pub const BAD_MONTH: Text = t(
    "Bulan tidak dikenal: tulis sebagai TTTT-BB, misalnya 2026-01.",
    "Unknown month: write it as YYYY-MM, for example 2026-01.",
);
/// A figures range that ends before it starts.
pub const MONTHS_REVERSED: Text = t(
    "Bulan awal jatuh setelah bulan akhir.",
    "The first month is after the last.",
);
/// An export format that is neither CSV nor PDF.
pub const BAD_FORMAT: Text = t(
    "Format ekspor harus CSV atau PDF.",
    "The export format must be CSV or PDF.",
);

/// A figures export refused because a small cell could be worked out from its totals.
pub const FIGURES_UNSAFE: Text = t(
    "Angka ini tidak dapat diekspor dengan aman: sebuah sel kecil dapat diperkirakan dari jumlah-jumlahnya. Pilih rentang bulan yang lebih panjang.",
    "These figures cannot be exported safely: a small cell could be worked out from the totals. Choose a longer range of months.",
);
