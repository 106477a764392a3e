//! Windows error codes in failure text (HRESULT, Win32, NTSTATUS): parsing, decoding, and the messages they print.
//!
//! A code is either printed as a number (`(0x80070005)`, `(0x20)`, `winapi error #3489660962`, JSON
//! `"Error":-1070137082`, sc.exe `FAILED 1073:`), printed as its constant name (`ERROR_INVALID_PARAMETER`,
//! `E_INVALIDARG`, `STATUS_ACCESS_DENIED`, `HCS_E_IMAGE_MISMATCH`, with or without the number in parentheses:
//! `ERROR_INVALID_PARAMETER (87)`), or inferred from the system message that Windows prints for it, in English or a
//! few other display languages (`Access is denied.`, `Zugriff verweigert`). Parsing runs on the matching key of
//! [`super::unescape`], so escaping and wrapping do not matter.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::table;
use serde::ser::SerializeStruct;

/// How a code is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeKind {
    /// `0x8xxxxxxx`: an HRESULT (facility 7 carries a Win32 code in its low 16 bits).
    Hresult,
    /// A plain Win32 error code (`ERROR_*`, at most 0xFFFF).
    Win32,
    /// `0xCxxxxxxx`: NTSTATUS layout; the HCS `HCS_E_*` and Hyper-V codes use it.
    Ntstatus,
}

/// Where a code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeSource {
    /// Printed in the text.
    Explicit,
    /// Inferred from the (possibly localised) system message.
    Message,
}

/// One Windows error code found in a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The raw 32-bit value.
    pub value: u32,
    /// Its layout.
    pub kind: CodeKind,
    /// Printed or inferred.
    pub source: CodeSource,
}

impl Code {
    /// A code from its raw value; the kind follows from the layout.
    pub fn new(value: u32, source: CodeSource) -> Code {
        let kind = if value <= 0xFFFF {
            CodeKind::Win32
        } else if value & 0xC000_0000 == 0xC000_0000 {
            CodeKind::Ntstatus
        } else {
            CodeKind::Hresult
        };
        Code { value, kind, source }
    }

    /// `0x80070005`, or `0x20` for a Win32 code.
    pub fn hex(&self) -> String {
        match self.kind {
            CodeKind::Win32 => format!("0x{:x}", self.value),
            _ => format!("0x{:08x}", self.value),
        }
    }

    /// The Win32 error this code carries: itself, or the low 16 bits of a facility-7 HRESULT/NTSTATUS, or the
    /// Win32 equivalent of a known NTSTATUS (STATUS_ACCESS_DENIED -> 5, STATUS_INVALID_PARAMETER -> 87).
    pub fn win32(&self) -> Option<u32> {
        match self.kind {
            CodeKind::Win32 => Some(self.value),
            _ if (self.value >> 16) & 0x1FFF == 7 => Some(self.value & 0xFFFF),
            _ => NTSTATUS_AS_WIN32
                .iter()
                .find(|(status, _)| *status == self.value)
                .map(|(_, w)| *w),
        }
    }

    /// The symbolic name, when known (`ERROR_ACCESS_DENIED`, `HCS_E_IMAGE_MISMATCH`).
    pub fn name(&self) -> Option<&'static str> {
        name_of(self.value).or_else(|| name_of(self.win32()?))
    }

    /// The English system message, when the table has it (`Access is denied.`); for a wrapped Win32 error, the
    /// message of that error.
    pub fn message(&self) -> Option<&'static str> {
        let of = |v: u32| table::by_value(v).map(|e| e.message);
        of(self.value).or_else(|| of(self.win32()?))
    }

    /// The code a constant name stands for (`ERROR_ACCESS_DENIED` -> 5), in any case.
    pub fn from_name(name: &str) -> Option<Code> {
        let name = name.trim();
        let value = table::by_name(name).map(|e| e.value).or_else(|| {
            EXTRA_NAMES
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name))
                .map(|(v, _)| *v)
        })?;
        Some(Code::new(value, CodeSource::Explicit))
    }

    /// The code a whole English system message stands for (case, whitespace and a trailing period do not matter).
    pub fn from_message(message: &str) -> Option<Code> {
        table::by_message(message).map(|e| Code::new(e.value, CodeSource::Message))
    }

    /// Whether this is an access denial (Win32 5 in any wrapping).
    pub fn is_access_denied(&self) -> bool {
        self.win32() == Some(5)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            CodeKind::Hresult => "hresult",
            CodeKind::Win32 => "win32",
            CodeKind::Ntstatus => "ntstatus",
        };
        write!(f, "{} ({kind}", self.hex())?;
        if let (Some(w), false) = (self.win32(), self.kind == CodeKind::Win32) {
            write!(f, ", win32 {w}")?;
        }
        if let Some(name) = self.name() {
            write!(f, ", {name}")?;
        }
        if self.source == CodeSource::Message {
            f.write_str(", from message")?;
        }
        f.write_str(")")
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Code", 5)?;
        s.serialize_field("hex", &self.hex())?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("win32", &self.win32())?;
        s.serialize_field("name", &self.name())?;
        s.serialize_field("source", &self.source)?;
        s.end()
    }
}

/// Known values and their names, sorted by value: the message table (see [`super::table`]) and [`EXTRA_NAMES`]. A
/// name printed in a text is read as its code (see [`codes_in`]), so every name here is also a way a failure can show
/// its code.
pub static NAMES: LazyLock<Vec<(u32, &'static str)>> = LazyLock::new(|| {
    let mut names: Vec<(u32, &'static str)> = table::entries().iter().map(|e| (e.value, e.name)).collect();
    names.extend(EXTRA_NAMES.iter().filter(|(v, _)| table::by_value(*v).is_none()));
    names.sort_unstable();
    names
});

/// Names the generated table does not hold: the HCS (`HCS_E_*`, in the NTSTATUS layout vmcompute returns) and Hyper-V
/// codes seen in real failures.
const EXTRA_NAMES: &[(u32, &str)] = &[
    (0xc035_1000, "STATUS_HV_NOT_PRESENT"),
    (0xc037_0100, "HCS_E_TERMINATED_DURING_START"),
    (0xc037_0101, "HCS_E_IMAGE_MISMATCH"),
    (0xc037_0102, "HCS_E_HYPERV_NOT_INSTALLED"),
    (0xc037_0105, "HCS_E_INVALID_STATE"),
    (0xc037_0106, "HCS_E_UNEXPECTED_EXIT"),
    (0xc037_0107, "HCS_E_TERMINATED"),
    (0xc037_010a, "HCS_E_CONNECTION_CLOSED"),
    (0xc037_010e, "HCS_E_SYSTEM_NOT_FOUND"),
    (0xc037_010f, "HCS_E_SYSTEM_ALREADY_EXISTS"),
    (0xc037_0110, "HCS_E_SYSTEM_ALREADY_STOPPED"),
];

/// The name of a value: the table's, else an [`EXTRA_NAMES`] one.
fn name_of(value: u32) -> Option<&'static str> {
    table::by_value(value)
        .map(|e| e.name)
        .or_else(|| EXTRA_NAMES.iter().find(|(v, _)| *v == value).map(|(_, n)| *n))
}

/// NTSTATUS values and the Win32 error that Windows maps each one to (`RtlNtStatusToDosError`).
const NTSTATUS_AS_WIN32: &[(u32, u32)] = &[
    (0xc000_000d, 0x57),
    (0xc000_0010, 0x1),
    (0xc000_0022, 0x5),
    (0xc000_0034, 0x2),
    (0xc000_0035, 0xb7),
    (0xc000_003a, 0x3),
    (0xc000_0043, 0x20),
    (0xc000_00bb, 0x32),
];

/// System messages and the code Windows prints them for: the English messages of the table (see
/// [`table::entries`]; those a text can show whole and only as a message: no `%1` inserts, three words or 16 letters,
/// not a success), then
/// [`EXTRA_MESSAGES`] and [`LOCALISED_MESSAGES`]. A message several codes share stands for the lowest one.
pub static MESSAGES: LazyLock<Vec<(&'static str, u32)>> = LazyLock::new(|| {
    let inferable = table::entries().iter().filter(|e| {
        let key = table::normalise(e.message);
        let words = e.message.split_whitespace().count();
        !e.message.contains('%') && (words >= 3 || key.len() >= 16) && !key.contains("succe")
    });
    let all = inferable
        .map(|e| (e.message, e.value))
        .chain(EXTRA_MESSAGES.iter().copied())
        .chain(LOCALISED_MESSAGES.iter().copied());
    let mut seen = std::collections::HashSet::new();
    all.filter(|(message, _)| seen.insert(table::normalise(message)))
        .collect()
});

/// English wordings the table does not hold whole: the HCS messages, and parts of system messages seen cut or
/// reworded in real failures. In key form; a longer key never hurts.
const EXTRA_MESSAGES: &[(&str, u32)] = &[
    ("beingusedbyanotherprocess", 0x20),
    ("thespecifiedpathisinvalid", 0xa1),
    ("unspecifiederror", 0x8000_4005),
    (
        "operatingsystemofthecontainerdoesnotmatchtheoperatingsystemofthehost",
        0xc037_0101,
    ),
    (
        "containeroperatingsystemdoesnotmatchthehostoperatingsystem",
        0xc037_0101,
    ),
    ("computesystemexitedunexpectedly", 0xc037_0106),
    ("virtualmachineorcontainerexitedunexpectedly", 0xc037_0106),
    ("connectionwiththevirtualmachineorcontainerwasclosed", 0xc037_010a),
    ("withthespecifiedidentifierdoesnotexist", 0xc037_010e),
    ("withthespecifiedidentifierisnotrunning", 0xc037_0110),
    ("nohypervisorispresentonthissystem", 0xc035_1000),
];

/// System messages in other display languages, in key form (see [`super::unescape`]: lowercase, no whitespace, no
/// quotes), for the codes that matter most here. To add a locale, run the failing operation on a Windows with that
/// display language (or read its message with `[ComponentModel.Win32Exception]::new(5).Message` in PowerShell),
/// write the message in key form without the trailing period, add a row with the code, and add a sample with its
/// expected code to the tests.
const LOCALISED_MESSAGES: &[(&str, u32)] = &[
    ("zugriffverweigert", 5),
    ("accèsrefusé", 5),
    ("accesodenegado", 5),
    ("accessonegato", 5),
    ("acessonegado", 5),
    ("toeganggeweigerd", 5),
    ("odmowadostępu", 5),
    ("отказановдоступе", 5),
    ("erişimengellendi", 5),
    ("アクセスが拒否されました", 5),
    ("拒绝访问", 5),
    ("存取被拒", 5),
    ("액세스가거부되었습니다", 5),
    ("voneinemanderenprozessverwendet", 0x20),
    ("unzulässigefunktion", 0x1),
    ("dassystemkanndieangegebenedateinichtfinden", 0x2),
    ("dassystemkanndenangegebenenpfadnichtfinden", 0x3),
    (
        "dersyntaxfürdendateinamen,verzeichnisnamenoderdiedatenträgerbezeichnungistfalsch",
        0x7b,
    ),
    ("derangegebenedienstistbereitsvorhanden", 0x431),
    ("derparameteristfalsch", 0x57),
    ("leparamètreestincorrect", 0x57),
    ("einedateikannnichterstelltwerden,wenndiesebereitsvorhandenist", 0xb7),
];

/// [`MESSAGES`] in key form (see [`table::normalise`]).
static MESSAGE_KEYS: LazyLock<Vec<(String, u32)>> = LazyLock::new(|| {
    MESSAGES
        .iter()
        .map(|(m, v)| (table::normalise(m), *v))
        .filter(|(k, _)| !k.is_empty())
        .collect()
});

/// Whether a key holds any message of [`MESSAGE_KEYS`] at all: one pass over the key, so that the search for each
/// message only runs on the few records that hold one.
static ANY_MESSAGE: LazyLock<Regex> = LazyLock::new(|| any_of(MESSAGE_KEYS.iter().map(|(k, _)| k.as_str())));

/// Whether a key holds any name of [`LOWERCASE_NAMES`] (see [`ANY_MESSAGE`]).
static ANY_NAME: LazyLock<Regex> = LazyLock::new(|| any_of(LOWERCASE_NAMES.iter().map(|(_, n)| n.as_str())));

/// A regex that matches any of the literals.
fn any_of<'a>(literals: impl Iterator<Item = &'a str>) -> Regex {
    let alternation: Vec<String> = literals.map(regex::escape).collect();
    regex::RegexBuilder::new(&alternation.join("|"))
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .expect("literal alternation")
}

/// Printed codes, on the key: `(0x20)`, a bare 8-digit `0x...` (the key has no word boundaries, so exactly the
/// first 8 digits are read), `winapierror#N`, JSON `error:-N`, sc.exe `failedN:`.
static PRINTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\(0x(?P<paren>[0-9a-f]{1,8})\)|0x(?P<bare>[0-9a-f]{8})|winapierror#(?P<winapi>\d{1,10})|error:(?P<neg>-\d{9,10})(?:[^0-9]|$)|failed(?P<sc>\d{1,5}):",
    )
    .expect("code regex")
});

/// Every code in a key, in order of appearance: (position, code). Printed and inferred codes both.
pub fn codes_in(key: &str) -> Vec<(usize, Code)> {
    let mut found = Vec::new();
    for caps in PRINTED.captures_iter(key) {
        let whole = caps.get(0).map_or(0, |m| m.start());
        let value = if let Some(m) = caps.name("paren").or_else(|| caps.name("bare")) {
            u32::from_str_radix(m.as_str(), 16).ok()
        } else if let Some(m) = caps.name("winapi").or_else(|| caps.name("sc")) {
            m.as_str().parse::<u64>().ok().and_then(|v| u32::try_from(v).ok())
        } else if let Some(m) = caps.name("neg") {
            m.as_str()
                .parse::<i64>()
                .ok()
                .and_then(|v| i32::try_from(v).ok())
                .map(|v| v as u32)
        } else {
            None
        };
        if let Some(value) = value.filter(|v| *v != 0) {
            found.push((whole, Code::new(value, CodeSource::Explicit)));
        }
    }
    let mut named: Vec<(usize, usize, u32)> = Vec::new();
    let names = if ANY_NAME.is_match(key) {
        LOWERCASE_NAMES.as_slice()
    } else {
        &[]
    };
    for (value, name) in names {
        let mut from = 0;
        while let Some(at) = key[from..].find(name.as_str()) {
            let start = from + at;
            let end = start + name.len();
            from = end;
            if !name_stands_alone(key, start, end) {
                continue;
            }
            named.push((start, end, *value));
        }
    }
    // A name inside a longer one is part of it (`E_PENDING` in `ERROR_DELETE_PENDING`).
    let inside_another = |&(start, end, _): &(usize, usize, u32)| {
        named
            .iter()
            .any(|&(s, e, _)| s <= start && end <= e && e - s > end - start)
    };
    for &(start, end, value) in named.iter().filter(|n| !inside_another(n)) {
        found.push((start, Code::new(value, CodeSource::Explicit)));
        if let Some(printed) = decimal_in_parentheses(&key[end..]) {
            found.push((end, Code::new(printed, CodeSource::Explicit)));
        }
    }
    found.extend(messages_in(key));
    found.sort_by_key(|(at, _)| *at);
    found
}

/// The system messages in a key: (position, code). A message found inside a longer one is the longer one's part
/// (`Access is denied` in `Network access is denied`) and does not count.
fn messages_in(key: &str) -> Vec<(usize, Code)> {
    if !ANY_MESSAGE.is_match(key) {
        return Vec::new();
    }
    let mut spans: Vec<(usize, usize, u32)> = Vec::new();
    for (message, value) in MESSAGE_KEYS.iter() {
        let mut from = 0;
        while let Some(at) = key[from..].find(message.as_str()) {
            let start = from + at;
            spans.push((start, start + message.len(), *value));
            from = start + message.len();
        }
    }
    let inside_another = |(i, (start, end, _)): &(usize, &(usize, usize, u32))| {
        spans
            .iter()
            .enumerate()
            .any(|(j, (s, e, _))| j != *i && s <= start && end <= e && (e - s > end - start || j < *i))
    };
    spans
        .iter()
        .enumerate()
        .filter(|span| !inside_another(span))
        .map(|(_, (start, _, value))| (*start, Code::new(*value, CodeSource::Message)))
        .collect()
}

/// Whether a constant name found at `start..end` of a key is that name and not part of another word: `hcs_e_x` is
/// not `e_x`, `error_file_exists_x` is not `error_file_exists`, and the short HRESULT names (`E_FAIL`) must touch
/// punctuation on one side (`cache_failed` is not `E_FAIL`; the key has no spaces to tell words apart).
fn name_stands_alone(key: &str, start: usize, end: usize) -> bool {
    let before = key[..start].chars().next_back();
    let after = key[end..].chars().next();
    if before == Some('_') || after.is_some_and(|c| c == '_' || c.is_ascii_digit()) {
        return false;
    }
    if key[start..].starts_with("e_") {
        let punct = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        return punct(before) || punct(after);
    }
    true
}

/// A key with every constant name of [`NAMES`] taken out (`ERROR_SHARING_VIOLATION` says no word of its own).
pub fn without_code_names(key: &str) -> String {
    if !ANY_NAME.is_match(key) {
        return key.to_string();
    }
    LOWERCASE_NAMES
        .iter()
        .fold(key.to_string(), |key, (_, name)| key.replace(name.as_str(), ""))
}

/// [`NAMES`] in key form.
static LOWERCASE_NAMES: LazyLock<Vec<(u32, String)>> =
    LazyLock::new(|| NAMES.iter().map(|(v, n)| (*v, n.to_ascii_lowercase())).collect());

/// The number a constant name is followed by in decimal (`ERROR_INVALID_PARAMETER (87)`, key `(87)`); the hex form
/// `(0x57)` is read by [`PRINTED`] already.
fn decimal_in_parentheses(after: &str) -> Option<u32> {
    let digits = after.strip_prefix('(')?;
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 10 || digits.as_bytes().get(len) != Some(&b')') {
        return None;
    }
    digits[..len].parse::<u32>().ok().filter(|v| *v != 0)
}

/// The code that best describes a failure: the innermost (last) printed code, else the innermost inferred one.
pub fn best_code(codes: &[(usize, Code)]) -> Option<Code> {
    codes
        .iter()
        .rev()
        .find(|(_, c)| c.source == CodeSource::Explicit)
        .or_else(|| codes.last())
        .map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::unescape::key_of;

    fn values(text: &str) -> Vec<(u32, CodeSource)> {
        codes_in(&key_of(text))
            .into_iter()
            .map(|(_, c)| (c.value, c.source))
            .collect()
    }

    #[test]
    fn parses_printed_codes() {
        assert_eq!(
            values(
                "failed in Win32: The process cannot access the file because it is being used by another process. (0x20)"
            ),
            vec![(0x20, CodeSource::Message), (0x20, CodeSource::Explicit)]
        );
        assert_eq!(values("syscall: (0xc0370101) extra")[0].0, 0xc037_0101);
        assert_eq!(values("hresult 0x80070005 here")[0].0, 0x8007_0005);
        assert_eq!(
            values("Start failed in Win32: winapi error #3489660962 (0xd0")[0].0,
            3_489_660_962
        );
        assert_eq!(values(r#""Error":-1070137082,"ErrorMessage":"x""#)[0].0, 0xc037_0106);
        assert_eq!(values("[SC] CreateService FAILED 1073:")[0].0, 1073);
    }

    #[test]
    fn ignores_zero() {
        assert!(values("returned (0x0)").is_empty());
    }

    #[test]
    fn infers_codes_from_localised_messages() {
        assert_eq!(values("Zugriff verweigert"), vec![(5, CodeSource::Message)]);
        assert_eq!(values("Access is denied."), vec![(5, CodeSource::Message)]);
        assert_eq!(
            values("Do not attach the filter to the volume at this time."),
            vec![(0x801f_000f, CodeSource::Message)]
        );
    }

    #[test]
    fn decodes_kinds_and_win32() {
        let hr = Code::new(0x8007_0005, CodeSource::Explicit);
        assert_eq!(
            (hr.kind, hr.win32(), hr.name()),
            (CodeKind::Hresult, Some(5), Some("E_ACCESSDENIED"))
        );
        assert!(hr.is_access_denied());
        let w = Code::new(0x20, CodeSource::Explicit);
        assert_eq!(
            (w.kind, w.hex(), w.name()),
            (CodeKind::Win32, "0x20".to_string(), Some("ERROR_SHARING_VIOLATION"))
        );
        let nt = Code::new(0xc037_0101, CodeSource::Explicit);
        assert_eq!(
            (nt.kind, nt.win32(), nt.name()),
            (CodeKind::Ntstatus, None, Some("HCS_E_IMAGE_MISMATCH"))
        );
        assert_eq!(Code::new(0xc000_0022, CodeSource::Explicit).win32(), Some(5));
        assert_eq!(
            Code::new(0x8007_007b, CodeSource::Explicit).name(),
            Some("ERROR_INVALID_NAME")
        );
    }

    #[test]
    fn decodes_constant_names_with_and_without_their_number() {
        assert_eq!(
            values("hcsshim::ImportLayer: ERROR_FILE_EXISTS (0xb7)"),
            vec![(0x50, CodeSource::Explicit), (0xb7, CodeSource::Explicit)]
        );
        assert_eq!(
            values("bindflt returned ERROR_INVALID_PARAMETER (87) under load"),
            vec![(87, CodeSource::Explicit), (87, CodeSource::Explicit)]
        );
        assert_eq!(
            values(r"open C:\x: STATUS_ACCESS_DENIED"),
            vec![(0xc000_0022, CodeSource::Explicit)]
        );
        assert_eq!(values("hr=E_INVALIDARG"), vec![(0x8007_0057, CodeSource::Explicit)]);
        assert_eq!(
            values("HCS_E_IMAGE_MISMATCH"),
            vec![(0xc037_0101, CodeSource::Explicit)]
        );
        // The printed number is the innermost code, whatever the name says.
        let codes = codes_in(&key_of("ERROR_FILE_EXISTS (0xb7)"));
        assert_eq!(best_code(&codes).map(|c| c.value), Some(0xb7));
    }

    #[test]
    fn names_inside_other_words_are_not_codes() {
        assert!(values("cache_failed; retrying").is_empty());
        assert!(values("MY_ERROR_ACCESS_DENIED_COUNT").is_empty());
        assert!(values("ERROR_ACCESS_DENIED_2").is_empty());
        assert_eq!(values("HCS_E_TERMINATED"), vec![(0xc037_0107, CodeSource::Explicit)]);
        assert_eq!(values("HRESULT E_FAIL."), vec![(0x8000_4005, CodeSource::Explicit)]);
    }

    #[test]
    fn every_name_decodes_to_its_value_and_back() {
        for (value, name) in NAMES.iter() {
            let codes = codes_in(&key_of(&format!("failed: {name}")));
            assert_eq!(codes.len(), 1, "{name}: {codes:?}");
            assert_eq!(codes[0].1.value, *value, "{name}");
            assert_eq!(codes[0].1.name(), Some(*name), "{name}");
        }
    }

    #[test]
    fn ntstatus_maps_to_its_win32_error() {
        for (status, win32) in NTSTATUS_AS_WIN32 {
            assert_eq!(Code::new(*status, CodeSource::Explicit).win32(), Some(*win32));
        }
        assert_eq!(Code::new(0xc037_0101, CodeSource::Explicit).win32(), None);
    }

    #[test]
    fn infers_the_family_messages() {
        assert_eq!(values("The parameter is incorrect."), vec![(0x57, CodeSource::Message)]);
        assert_eq!(values("Der Parameter ist falsch."), vec![(0x57, CodeSource::Message)]);
        assert_eq!(
            values("Cannot create a file when that file already exists."),
            vec![(0xb7, CodeSource::Message)]
        );
    }

    #[test]
    fn best_code_prefers_printed_innermost() {
        let codes = codes_in(&key_of("Access is denied. (0x5) then Incorrect function."));
        assert_eq!(best_code(&codes).map(|c| c.value), Some(5));
        let codes = codes_in(&key_of("Access is denied. then Incorrect function."));
        assert_eq!(best_code(&codes).map(|c| c.value), Some(1));
        assert_eq!(best_code(&[]), None);
    }

    #[test]
    fn serializes_decoded_fields() {
        let json = serde_json::to_value(Code::new(0x8007_0005, CodeSource::Message)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"hex": "0x80070005", "kind": "hresult", "win32": 5, "name": "E_ACCESSDENIED", "source": "message"})
        );
    }
}
