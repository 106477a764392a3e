//! The Go path and string rules buildkit's mount code runs through, so the probe passes the bind filter and
//! vmcompute exactly the strings buildkitd passes: Go `path/filepath` for Windows (`VolumeName`, `Clean`,
//! `Dir`, `Split`, `Join`), go-winio v0.6.2 `ApplyFileBinding`'s `Volume{` rule and flags, and
//! `strconv.Quote` (Go's `%q`) for error texts.

/// `BINDFLT_FLAG_READ_ONLY_MAPPING` (go-winio `pkg/bindfilter`, hcsshim `internal/winapi/bindflt.go`).
pub const BINDFLT_FLAG_READ_ONLY_MAPPING: u32 = 0x0000_0001;
/// `BINDFLT_FLAG_MERGED_BIND_MAPPING`.
pub const BINDFLT_FLAG_MERGED_BIND_MAPPING: u32 = 0x0000_0002;
/// `BINDFLT_FLAG_USE_CURRENT_SILO_MAPPING`: use the mapping of the silo given by the job handle.
pub const BINDFLT_FLAG_USE_CURRENT_SILO_MAPPING: u32 = 0x0000_0004;
/// `BINDFLT_FLAG_NO_MULTIPLE_TARGETS`: go-winio sets it on every `ApplyFileBinding`.
pub const BINDFLT_FLAG_NO_MULTIPLE_TARGETS: u32 = 0x0000_0040;

/// The flags go-winio v0.6.2 `ApplyFileBinding(root, source, readOnly)` passes to `BfSetupFilter`.
pub fn apply_file_binding_flags(read_only: bool) -> u32 {
    let mut flags = BINDFLT_FLAG_NO_MULTIPLE_TARGETS;
    if read_only {
        flags |= BINDFLT_FLAG_READ_ONLY_MAPPING;
    }
    flags
}

/// Names of the bind filter flags set in `flags`, for the report.
pub fn bind_flag_names(flags: u32) -> Vec<&'static str> {
    [
        (BINDFLT_FLAG_READ_ONLY_MAPPING, "READ_ONLY_MAPPING"),
        (BINDFLT_FLAG_MERGED_BIND_MAPPING, "MERGED_BIND_MAPPING"),
        (BINDFLT_FLAG_USE_CURRENT_SILO_MAPPING, "USE_CURRENT_SILO_MAPPING"),
        (BINDFLT_FLAG_NO_MULTIPLE_TARGETS, "NO_MULTIPLE_TARGETS"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

/// go-winio's source rule: a source containing `Volume{` gets a trailing backslash unless it has one
/// ("otherwise we get an error when binding it to a folder").
pub fn bind_source(source: &str) -> String {
    if source.contains("Volume{") && !source.ends_with('\\') {
        format!("{source}\\")
    } else {
        source.to_owned()
    }
}

/// go-winio's error text when `BfSetupFilter` fails: `failed to bind target %q to root %q: <err>`,
/// where "target" is the backing source and "root" the mount point.
pub fn bind_error_text(source: &str, root: &str, err: &str) -> String {
    format!(
        "failed to bind target {} to root {}: {err}",
        go_quote(source),
        go_quote(root)
    )
}

fn is_sep(b: u8) -> bool {
    b == b'\\' || b == b'/'
}

/// Go `filepath` `pathHasPrefixFold`: `prefix` matches case-insensitively, slashes of either kind match
/// each other, and the prefix ends the path or is followed by a separator.
fn has_prefix_fold(path: &[u8], prefix: &[u8]) -> bool {
    if path.len() < prefix.len() {
        return false;
    }
    for (a, b) in path.iter().zip(prefix) {
        if is_sep(*b) {
            if !is_sep(*a) {
                return false;
            }
        } else if !a.eq_ignore_ascii_case(b) {
            return false;
        }
    }
    path.len() == prefix.len() || is_sep(path[prefix.len()])
}

fn unc_len(path: &[u8], prefix_len: usize) -> usize {
    let mut count = 0;
    for (i, b) in path.iter().enumerate().skip(prefix_len) {
        if is_sep(*b) {
            count += 1;
            if count == 2 {
                return i;
            }
        }
    }
    path.len()
}

/// Go (1.21+) `filepath.volumeNameLen` on Windows.
fn volume_name_len(path: &[u8]) -> usize {
    if path.len() >= 2 && path[1] == b':' {
        return 2;
    }
    if path.is_empty() || !is_sep(path[0]) {
        return 0;
    }
    if has_prefix_fold(path, br"\\.\UNC") {
        return unc_len(path, br"\\.\UNC\".len());
    }
    if has_prefix_fold(path, br"\\.") || has_prefix_fold(path, br"\\?") || has_prefix_fold(path, br"\??") {
        if path.len() == 3 {
            return 3;
        }
        let rest = &path[4..];
        return match rest.iter().position(|b| is_sep(*b)) {
            Some(i) => 4 + i,
            None => path.len(),
        };
    }
    if path.len() >= 2 && is_sep(path[1]) {
        return unc_len(path, 2);
    }
    0
}

fn from_slash(s: &str) -> String {
    s.replace('/', "\\")
}

/// Go `filepath.VolumeName` on Windows: `C:`, `\\server\share`, `\\?\Volume{...}`, or "".
pub fn volume_name(path: &str) -> String {
    from_slash(&path[..volume_name_len(path.as_bytes())])
}

/// Go `filepath.Clean` on Windows (without Go's rare `postClean` rewrites of elements that contain `:`).
pub fn clean(path: &str) -> String {
    let original = path.as_bytes();
    let vol_len = volume_name_len(original);
    let p = &original[vol_len..];
    if p.is_empty() {
        if vol_len > 1 && is_sep(original[0]) && is_sep(original[1]) {
            return from_slash(path);
        }
        return format!("{path}.");
    }
    let rooted = is_sep(p[0]);
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0usize, 0usize);
    if rooted {
        out.push(b'\\');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if is_sep(p[r]) || (p[r] == b'.' && (r + 1 == n || is_sep(p[r + 1]))) {
            // An empty element or `.`: dropped.
            r += 1;
        } else if p[r] == b'.' && p[r + 1] == b'.' && (r + 2 == n || is_sep(p[r + 2])) {
            r += 2;
            if out.len() > dotdot {
                // Back up to the previous separator (Go: `out.w--` while `out.index(out.w)` is not one).
                let mut w = out.len() - 1;
                while w > dotdot && !is_sep(out[w]) {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'\\');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'\\');
            }
            while r < n && !is_sep(p[r]) {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    let mut result = Vec::with_capacity(vol_len + out.len());
    result.extend_from_slice(&original[..vol_len]);
    result.extend_from_slice(&out);
    // Only ASCII separators were inserted or removed between whole UTF-8 runs.
    from_slash(&String::from_utf8_lossy(&result))
}

fn last_sep_after_volume(path: &[u8], vol_len: usize) -> Option<usize> {
    (vol_len..path.len()).rev().find(|&i| is_sep(path[i]))
}

/// Go `filepath.Dir` on Windows: what go-winio's `ApplyFileBinding` creates with `os.MkdirAll`.
pub fn dir(path: &str) -> String {
    let bytes = path.as_bytes();
    let vol_len = volume_name_len(bytes);
    let end = last_sep_after_volume(bytes, vol_len).map_or(vol_len, |i| i + 1);
    let d = clean(&path[vol_len..end]);
    let vol = volume_name(path);
    if d == "." && vol.len() > 2 {
        return vol;
    }
    vol + &d
}

/// Go `filepath.Split` on Windows: `(dir, file)` with `dir` keeping its trailing separator, as
/// containerd splits a snapshot path into `DriverInfo.HomeDir` and the layer id.
pub fn split(path: &str) -> (String, String) {
    let bytes = path.as_bytes();
    let vol_len = volume_name_len(bytes);
    let at = last_sep_after_volume(bytes, vol_len).map_or(vol_len, |i| i + 1);
    (path[..at].to_owned(), path[at..].to_owned())
}

/// Go `filepath.Join` on Windows for the common cases (non-empty elements joined by `\`, then cleaned).
pub fn join(elems: &[&str]) -> String {
    let parts: Vec<&str> = elems.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 && !joined.ends_with(['\\', '/']) {
            joined.push('\\');
        }
        joined.push_str(part);
    }
    clean(&joined)
}

/// True for characters Go's `strconv.IsPrint` rejects that Rust's `char::is_control` accepts:
/// non-ASCII spaces and the common invisible format characters.
fn go_unprintable_non_control(c: char) -> bool {
    (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Go `strconv.Quote` (what `%q` prints): double quotes, `\"` and `\\` escaped, control and invisible
/// characters as `\a \b \f \n \r \t \v`, `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0B}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || go_unprintable_non_control(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_go_winio_s() {
        assert_eq!(apply_file_binding_flags(true), 0x41);
        assert_eq!(apply_file_binding_flags(false), 0x40);
        assert_eq!(bind_flag_names(0x41), ["READ_ONLY_MAPPING", "NO_MULTIPLE_TARGETS"]);
        assert_eq!(bind_flag_names(0x05), ["READ_ONLY_MAPPING", "USE_CURRENT_SILO_MAPPING"]);
    }

    #[test]
    fn volume_sources_get_a_trailing_backslash() {
        let v = r"\\?\Volume{3f1b1c32-0000-0000-0000-100000000000}";
        assert_eq!(bind_source(v), format!("{v}\\"));
        assert_eq!(bind_source(&format!("{v}\\")), format!("{v}\\"));
        assert_eq!(bind_source(&format!("{v}\\Files")), format!("{v}\\Files\\"));
        assert_eq!(bind_source(r"C:\buildkitd\src-test"), r"C:\buildkitd\src-test");
    }

    #[test]
    fn error_text_matches_the_seed() {
        assert_eq!(
            bind_error_text(r"C:\buildkitd\src-test", r"C:\buildkitd\dst-test", "Access is denied."),
            r#"failed to bind target "C:\\buildkitd\\src-test" to root "C:\\buildkitd\\dst-test": Access is denied."#
        );
    }

    #[test]
    fn quote_is_strconv_quote() {
        assert_eq!(go_quote(""), r#""""#);
        assert_eq!(go_quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(go_quote("tab\there\n"), r#""tab\there\n""#);
        assert_eq!(go_quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(go_quote("Zugriff verweigert äöü"), "\"Zugriff verweigert äöü\"");
        assert_eq!(go_quote("nb\u{a0}sp\u{feff}"), r#""nb\u00a0sp\ufeff""#);
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
    }

    #[test]
    fn volume_names() {
        assert_eq!(volume_name(r"C:\x"), "C:");
        assert_eq!(volume_name(r"c:"), "c:");
        assert_eq!(volume_name(r"\\server\share\x"), r"\\server\share");
        assert_eq!(volume_name(r"//server/share/x"), r"\\server\share");
        assert_eq!(
            volume_name(r"\\?\Volume{3f1b1c32-0000}\Files"),
            r"\\?\Volume{3f1b1c32-0000}"
        );
        assert_eq!(volume_name(r"\\?\C:\x"), r"\\?\C:");
        assert_eq!(volume_name(r"\\.\UNC\srv\share\x"), r"\\.\UNC\srv\share");
        assert_eq!(volume_name(r"\x"), "");
        assert_eq!(volume_name("rel"), "");
    }

    #[test]
    fn clean_like_go() {
        for (input, want) in [
            (r"C:\a\b\..\c\.\d\", r"C:\a\c\d"),
            (r"C:/a//b/", r"C:\a\b"),
            (r"C:\", r"C:\"),
            (r"C:", r"C:."),
            (r"C:\..\x", r"C:\x"),
            (r"a\..\..\b", r"..\b"),
            ("", "."),
            (r"\\server\share", r"\\server\share"),
            (r"\\server\share\", r"\\server\share\"),
            (r"\\?\Volume{x}\Files\", r"\\?\Volume{x}\Files"),
        ] {
            assert_eq!(clean(input), want, "Clean({input:?})");
        }
    }

    #[test]
    fn dir_like_go() {
        for (input, want) in [
            (r"C:\buildkitd\dst-test", r"C:\buildkitd"),
            (r"C:\buildkitd\tmp\buildkit-mount1819228504", r"C:\buildkitd\tmp"),
            (r"C:\dst", r"C:\"),
            (r"C:\", r"C:\"),
            (r"C:\a\b\", r"C:\a\b"),
            (r"C:/a/b", r"C:\a"),
            ("dst", "."),
            (r"C:dst", "C:."),
            (r"\\server\share\x", r"\\server\share\"),
            (r"\\server\share", r"\\server\share"),
        ] {
            assert_eq!(dir(input), want, "Dir({input:?})");
        }
    }

    #[test]
    fn split_and_join_round_trip_like_containerd() {
        let source = r"C:\ProgramData\containerd\root\io.containerd.snapshotter.v1.windows\snapshots\117263";
        let (home, id) = split(source);
        assert_eq!(
            home,
            r"C:\ProgramData\containerd\root\io.containerd.snapshotter.v1.windows\snapshots\"
        );
        assert_eq!(id, "117263");
        assert_eq!(join(&[&home, &id]), source);
        assert_eq!(split(r"C:\x\"), (r"C:\x\".to_owned(), String::new()));
        assert_eq!(split("C:x"), ("C:".to_owned(), "x".to_owned()));
        assert_eq!(join(&[r"C:\layer", "Files"]), r"C:\layer\Files");
        assert_eq!(join(&[r"\\?\Volume{x}\", "Files"]), r"\\?\Volume{x}\Files");
        assert_eq!(join(&["", "Files"]), "Files");
        assert_eq!(join(&[]), "");
    }
}
