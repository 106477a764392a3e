//! Undoes the escaping that logs add (logrus `msg="..."`, JSON strings, nested several times) for matching and display.
//!
//! Two views of a text are produced:
//! - the *key* ([`fold_key`]): lowercase, with every whitespace, backslash, quote and control character removed and
//!   `\uXXXX` escapes decoded. Any number of escaping levels and any line wrapping give the same key, so matching on
//!   it is insensitive to both. Markers and messages are written in this form (`failedtobindtarget`).
//! - the *collapsed* text ([`collapse`]): readable, with each run of backslashes reduced to one, escaped quotes
//!   unescaped and `\uXXXX` decoded. Paths are read from it.

use std::borrow::Cow;

/// Appends the matching key of `text` to `out` (see the module documentation), stopping once `out` holds `cap` bytes.
pub fn fold_key(text: &str, out: &mut String, cap: usize) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= cap {
            return;
        }
        match c {
            '\\' => {
                while chars.peek() == Some(&'\\') {
                    chars.next();
                }
                if chars.peek() == Some(&'u')
                    && let Some(decoded) = decode_u_escape(&mut chars)
                {
                    push_lower(out, decoded);
                }
            }
            '"' | '\'' | '`' => {}
            c if c.is_whitespace() || c.is_control() => {}
            c => push_lower(out, c),
        }
    }
}

/// The key of a whole text, without a cap.
pub fn key_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_key(text, &mut out, usize::MAX);
    out
}

fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_lowercase());
    }
}

/// Decodes `u` + four hex digits after a backslash run; leaves the iterator untouched if they are not there.
fn decode_u_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let mut look = chars.clone();
    look.next(); // the 'u'
    let mut value = 0u32;
    for _ in 0..4 {
        value = value * 16 + look.next()?.to_digit(16)?;
    }
    let decoded = char::from_u32(value)?;
    *chars = look;
    Some(decoded)
}

/// Readable text with every escaping level undone: backslash runs become one backslash, escaped quotes become
/// quotes, `\uXXXX` is decoded. Lossy on purpose (a UNC `\\?\` prefix reads `\?\`); used for paths and display.
pub fn collapse(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        while chars.peek() == Some(&'\\') {
            chars.next();
        }
        match chars.peek() {
            Some('"') | Some('\'') => {
                out.push(chars.next().unwrap_or('"'));
            }
            Some('u') => match decode_u_escape(&mut chars) {
                Some(decoded) => out.push(decoded),
                None => out.push('\\'),
            },
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Whether a line leaves a double-quoted string open (an odd number of unescaped `"`), given whether one was open
/// before it. Used to join a logrus `msg="...` that a terminal or a copy wrapped onto the next line.
pub fn quote_open_after(line: &str, open_before: bool) -> bool {
    let mut open = open_before;
    let mut backslashes = 0usize;
    for b in line.bytes() {
        match b {
            b'\\' => backslashes += 1,
            b'"' => {
                if backslashes.is_multiple_of(2) {
                    open = !open;
                }
                backslashes = 0;
            }
            _ => backslashes = 0,
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ignores_escaping_levels_and_whitespace() {
        let plain = r#"failed to bind target "C:\a\Files" to root "C:\b": Access is denied."#;
        let logrus = r#"failed to bind target \"C:\\a\\Files\" to root \"C:\\b\": Access is denied."#;
        let twice = r#"failed to bind target \\\"C:\\\\a\\\\Files\\\" to root \\\"C:\\\\b\\\": Access is denied."#;
        let wrapped = "failed to bind tar\n  get \"C:\\a\\Files\" to root \"C:\\b\": Access is\n denied.";
        let expected = key_of(plain);
        assert_eq!(expected, "failedtobindtargetc:afilestorootc:b:accessisdenied.");
        assert_eq!(key_of(logrus), expected);
        assert_eq!(key_of(twice), expected);
        assert_eq!(key_of(wrapped), expected);
    }

    #[test]
    fn key_decodes_unicode_escapes_and_lowercases() {
        assert_eq!(key_of(r"Acc\u00e8s refus\u00e9"), "accèsrefusé");
        assert_eq!(key_of(r"Acc\\u00e8s"), "accès");
        assert_eq!(key_of("Zugriff verweigert"), "zugriffverweigert");
        // a path component starting with u is not an escape
        assert_eq!(key_of(r"C:\users\x"), "c:usersx");
    }

    #[test]
    fn key_respects_cap() {
        let mut out = String::new();
        fold_key("abcdefgh", &mut out, 3);
        assert_eq!(out, "abc");
    }

    #[test]
    fn collapse_undoes_nested_escaping() {
        assert_eq!(collapse(r#"root \"C:\\\\b\\\\tmp\""#), r#"root "C:\b\tmp""#);
        assert_eq!(collapse("no escapes"), "no escapes");
        assert_eq!(collapse(r"\u00e8"), "è");
        assert_eq!(collapse(r"C:\users"), r"C:\users");
    }

    #[test]
    fn quote_balance_tracks_open_strings() {
        assert!(quote_open_after(r#"level=error msg="failed: Zugr"#, false));
        assert!(!quote_open_after(r#"iff verweigert" spanID=1"#, true));
        assert!(!quote_open_after(r#"msg="a \"quoted\" word""#, false));
        assert!(quote_open_after(r#"msg="ends with backslash \\" and "open"#, false));
    }
}
