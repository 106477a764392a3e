//! The message table: Windows error codes with their constant names and English system messages, looked up both ways.
//!
//! The rows live in `messages/codes.tsv` (kind, hex value, constant name, message; generated, see
//! `messages/README.md`), are read once and indexed by value, by name and by normalised message.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::code::CodeKind;
use super::unescape::key_of;

/// The generated rows, sorted by value.
const DATA: &str = include_str!("messages/codes.tsv");

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The layout the row declares (`win32`, `hresult`, `ntstatus`).
    pub kind: CodeKind,
    /// The raw 32-bit value.
    pub value: u32,
    /// The constant name (`ERROR_ACCESS_DENIED`).
    pub name: &'static str,
    /// The English system message (`Access is denied.`); may hold inserts such as `%1`.
    pub message: &'static str,
}

struct Table {
    entries: Vec<Entry>,
    by_value: HashMap<u32, usize>,
    by_name: HashMap<String, usize>,
    /// Normalised message -> the lowest-valued row that prints it.
    by_message: HashMap<String, usize>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let entries = parse(DATA);
    let mut by_value = HashMap::with_capacity(entries.len());
    let mut by_name = HashMap::with_capacity(entries.len());
    let mut by_message = HashMap::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        by_value.entry(e.value).or_insert(i);
        by_name.entry(e.name.to_ascii_lowercase()).or_insert(i);
        by_message.entry(normalise(e.message)).or_insert(i);
    }
    Table {
        entries,
        by_value,
        by_name,
        by_message,
    }
});

/// Reads the TSV rows; `#` lines are comments. A malformed row is a bug in the data, caught by the tests.
fn parse(data: &'static str) -> Vec<Entry> {
    data.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&'static str> = line.split('\t').collect();
            assert_eq!(
                cols.len(),
                4,
                "message table row needs kind, hex, name, message: {line}"
            );
            let kind = match cols[0] {
                "win32" => CodeKind::Win32,
                "hresult" => CodeKind::Hresult,
                "ntstatus" => CodeKind::Ntstatus,
                other => panic!("message table: unknown kind {other}"),
            };
            let hex = cols[1].strip_prefix("0x").expect("message table: hex value");
            let value = u32::from_str_radix(hex, 16).expect("message table: hex value");
            Entry {
                kind,
                value,
                name: cols[2],
                message: cols[3],
            }
        })
        .collect()
}

/// A message in matching form: the key of [`super::unescape`] (case, whitespace and quotes folded), without a leading
/// NTSTATUS `{Title}` and without trailing periods.
pub fn normalise(message: &str) -> String {
    let trimmed = message.trim_start();
    let body = trimmed
        .strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
        .map_or(trimmed, |(_, body)| body);
    let mut key = key_of(body);
    while key.ends_with('.') {
        key.pop();
    }
    key
}

/// Every row, sorted by value.
pub fn entries() -> &'static [Entry] {
    &TABLE.entries
}

/// The row of a value.
pub fn by_value(value: u32) -> Option<&'static Entry> {
    TABLE.by_value.get(&value).map(|i| &TABLE.entries[*i])
}

/// The row of a constant name, in any case.
pub fn by_name(name: &str) -> Option<&'static Entry> {
    TABLE
        .by_name
        .get(&name.trim().to_ascii_lowercase())
        .map(|i| &TABLE.entries[*i])
}

/// The row a whole message stands for (see [`normalise`]); a message several codes share gives the lowest value.
pub fn by_message(message: &str) -> Option<&'static Entry> {
    TABLE.by_message.get(&normalise(message)).map(|i| &TABLE.entries[*i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::code::{Code, CodeSource};

    #[test]
    fn sorted_and_unique() {
        let rows = entries();
        assert!(rows.len() > 300, "{} rows", rows.len());
        for pair in rows.windows(2) {
            assert!(pair[0].value < pair[1].value, "{:?} before {:?}", pair[0], pair[1]);
        }
        let mut names: Vec<&str> = rows.iter().map(|e| e.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate names");
    }

    #[test]
    fn rows_are_well_formed() {
        for e in entries() {
            assert_eq!(Code::new(e.value, CodeSource::Explicit).kind, e.kind, "{e:?}");
            assert!(!e.message.trim().is_empty(), "{e:?}");
            assert!(
                e.name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{e:?}"
            );
        }
    }

    #[test]
    fn every_row_maps_back() {
        for e in entries() {
            assert_eq!(by_value(e.value), Some(e));
            assert_eq!(by_name(e.name), Some(e));
            assert_eq!(by_name(&e.name.to_ascii_lowercase()), Some(e));
            // A message maps to its own code, or to the lowest code that prints the same text.
            let back = by_message(e.message).expect("message maps back");
            assert!(back.value <= e.value, "{e:?} -> {back:?}");
            assert_eq!(normalise(back.message), normalise(e.message));
            if back.value == e.value {
                assert_eq!(back, e);
            }
        }
    }

    #[test]
    fn spot_checks_against_the_source() {
        let check = |name: &str, value: u32, message: &str| {
            let e = by_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((e.value, e.message), (value, message), "{name}");
            assert_eq!(by_value(value).map(|e| e.name), Some(name));
        };
        check("ERROR_ACCESS_DENIED", 5, "Access is denied.");
        check("ERROR_INVALID_PARAMETER", 87, "The parameter is incorrect.");
        check(
            "ERROR_ALREADY_EXISTS",
            0xb7,
            "Cannot create a file when that file already exists.",
        );
        check("E_ACCESSDENIED", 0x8007_0005, "General access denied error.");
        check(
            "STATUS_ACCESS_DENIED",
            0xc000_0022,
            "{Access Denied} A process has requested access to an object but has not been granted those access rights.",
        );
        assert_eq!(by_message("ACCESS IS DENIED").map(|e| e.value), Some(5));
        assert_eq!(by_message("access is\n denied.").map(|e| e.value), Some(5));
        assert_eq!(
            by_message("A process has requested access to an object but has not been granted those access rights.")
                .map(|e| e.value),
            Some(0xc000_0022)
        );
        assert_eq!(by_name(" error_sharing_violation ").map(|e| e.value), Some(0x20));
        assert_eq!(by_message("no such message"), None);
    }
}
