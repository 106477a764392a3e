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
        let by_value = NAMES.iter().find(|(v, _)| *v == self.value).map(|(_, n)| *n);
        by_value.or_else(|| {
            let w = self.win32()?;
            NAMES.iter().find(|(v, _)| *v == w).map(|(_, n)| *n)
        })
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

/// Known values and their names (Win32, HRESULT, NTSTATUS, HCS). A name printed in a text is read as its code
/// (see [`codes_in`]), so every name here is also a way a failure can show its code.
pub const NAMES: &[(u32, &str)] = &[
    (0x1, "ERROR_INVALID_FUNCTION"),
    (0x2, "ERROR_FILE_NOT_FOUND"),
    (0x3, "ERROR_PATH_NOT_FOUND"),
    (0x5, "ERROR_ACCESS_DENIED"),
    (0x6, "ERROR_INVALID_HANDLE"),
    (0x15, "ERROR_NOT_READY"),
    (0x1f, "ERROR_GEN_FAILURE"),
    (0x20, "ERROR_SHARING_VIOLATION"),
    (0x32, "ERROR_NOT_SUPPORTED"),
    (0x50, "ERROR_FILE_EXISTS"),
    (0x57, "ERROR_INVALID_PARAMETER"),
    (0x7b, "ERROR_INVALID_NAME"),
    (0x91, "ERROR_DIR_NOT_EMPTY"),
    (0xa1, "ERROR_BAD_PATHNAME"),
    (0xb7, "ERROR_ALREADY_EXISTS"),
    (0x3f1, "ERROR_BADDB"),
    (0x431, "ERROR_SERVICE_EXISTS"),
    (0x52e, "ERROR_LOGON_FAILURE"),
    (0x8000_4001, "E_NOTIMPL"),
    (0x8000_4005, "E_FAIL"),
    (0x8007_0005, "E_ACCESSDENIED"),
    (0x8007_000e, "E_OUTOFMEMORY"),
    (0x8007_0057, "E_INVALIDARG"),
    (0x801f_000f, "ERROR_FLT_DO_NOT_ATTACH"),
    (0xc000_000d, "STATUS_INVALID_PARAMETER"),
    (0xc000_0010, "STATUS_INVALID_DEVICE_REQUEST"),
    (0xc000_0022, "STATUS_ACCESS_DENIED"),
    (0xc000_0034, "STATUS_OBJECT_NAME_NOT_FOUND"),
    (0xc000_0035, "STATUS_OBJECT_NAME_COLLISION"),
    (0xc000_003a, "STATUS_OBJECT_PATH_NOT_FOUND"),
    (0xc000_0043, "STATUS_SHARING_VIOLATION"),
    (0xc000_00bb, "STATUS_NOT_SUPPORTED"),
    (0xc01c_000f, "STATUS_FLT_DO_NOT_ATTACH"),
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

/// System messages (in key form) and the code Windows prints them for. English first, then localised forms of the
/// messages that matter most here; extend freely, a longer key never hurts.
pub const MESSAGES: &[(&str, u32)] = &[
    ("accessisdenied", 5),
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
    ("beingusedbyanotherprocess", 0x20),
    ("voneinemanderenprozessverwendet", 0x20),
    ("incorrectfunction", 0x1),
    ("unzulässigefunktion", 0x1),
    ("thesystemcannotfindthefilespecified", 0x2),
    ("dassystemkanndieangegebenedateinichtfinden", 0x2),
    ("thesystemcannotfindthepathspecified", 0x3),
    ("dassystemkanndenangegebenenpfadnichtfinden", 0x3),
    ("therequestisnotsupported", 0x32),
    ("thefilename,directoryname,orvolumelabelsyntaxisincorrect", 0x7b),
    (
        "dersyntaxfürdendateinamen,verzeichnisnamenoderdiedatenträgerbezeichnungistfalsch",
        0x7b,
    ),
    ("thespecifiedpathisinvalid", 0xa1),
    ("thespecifiedservicealreadyexists", 0x431),
    ("derangegebenedienstistbereitsvorhanden", 0x431),
    ("donotattachthefiltertothevolumeatthistime", 0x801f_000f),
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
    ("theparameterisincorrect", 0x57),
    ("derparameteristfalsch", 0x57),
    ("leparamètreestincorrect", 0x57),
    ("cannotcreateafilewhenthatfilealreadyexists", 0xb7),
    ("einedateikannnichterstelltwerden,wenndiesebereitsvorhandenist", 0xb7),
    ("thedeviceisnotready", 0x15),
    ("thehandleisinvalid", 0x6),
    ("adeviceattachedtothesystemisnotfunctioning", 0x1f),
    ("thedirectoryisnotempty", 0x91),
    ("theconfigurationregistrydatabaseiscorrupt", 0x3f1),
    ("unspecifiederror", 0x8000_4005),
];

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
    for (value, name) in LOWERCASE_NAMES.iter() {
        let mut from = 0;
        while let Some(at) = key[from..].find(name.as_str()) {
            let start = from + at;
            let end = start + name.len();
            from = end;
            if !name_stands_alone(key, start, end) {
                continue;
            }
            found.push((start, Code::new(*value, CodeSource::Explicit)));
            if let Some(printed) = decimal_in_parentheses(&key[end..]) {
                found.push((end, Code::new(printed, CodeSource::Explicit)));
            }
        }
    }
    for (message, value) in MESSAGES {
        let mut from = 0;
        while let Some(at) = key[from..].find(message) {
            found.push((from + at, Code::new(*value, CodeSource::Message)));
            from += at + message.len();
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found
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
        for (value, name) in NAMES {
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
