//! Windows paths named by a failure (layer folders, mount points, volumes), read from its collapsed text and normalised.

use std::sync::LazyLock;

use regex::Regex;

use crate::normalize::normalize;

/// At most this many distinct paths are kept per failure.
pub const MAX_PATHS: usize = 8;

static PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        \\\?\\Volume\{[0-9A-Fa-f-]+\}\\?          # a volume GUID path (its \\?\ prefix collapsed to \?\)
        | \\\?\\[A-Za-z]:\\[^\s"'<>|*?:;,)\]}]*   # an extended-length drive path
        | [A-Za-z]:\\[^\s"'<>|*?:;,)\]}]*         # a drive path
        | \.\.\.\\[^\s"'<>|*?:;,)\]}]*            # an elided path as bug reports print them (...\snapshots\1)
        "#,
    )
    .expect("path regex")
});

/// The distinct normalised paths in a collapsed text, in order of appearance.
///
/// The path pattern stops at a space; a path is read on across spaces (`C:\Program Files\containerd\...`) where the
/// text makes its end clear: up to the closing quote when it is quoted, else over each following space-separated
/// piece that goes on with a folder separator (`Files\containerd\x`), ending where such a piece ends (at `:`, a
/// quote, the end of the line or a space). A last folder with a space and no quotes (`C:\Program Files\My App`) is
/// cut at its space: nothing says where it ends.
pub fn paths_in(collapsed: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut read_to = 0;
    for m in PATH.find_iter(collapsed) {
        if m.start() < read_to {
            continue;
        }
        let end = whole_path_end(collapsed, m.start(), m.end());
        read_to = end;
        let raw = collapsed[m.start()..end].trim_end_matches(['.', '\\', ' ']);
        if raw.len() < 3 {
            continue;
        }
        let raw = match raw.strip_prefix(r"\?\") {
            Some(rest) => format!(r"\\?\{rest}"),
            None => raw.to_string(),
        };
        let path = normalize(&raw);
        if !out.contains(&path) {
            out.push(path);
            if out.len() == MAX_PATHS {
                break;
            }
        }
    }
    out
}

/// Characters that never belong to a path read across a space.
const NOT_IN_PATH: &[char] = &[
    '"', '\'', '<', '>', '|', '*', '?', ':', ';', ',', ')', ']', '}', '\n', '\r', '\t',
];

/// Where the path the pattern found at `start..end` really ends (see [`paths_in`]).
fn whole_path_end(text: &str, start: usize, end: usize) -> usize {
    let rest = &text[end..];
    if !rest.starts_with(' ') || text[start..end].starts_with(r"\?\Volume{") {
        return end;
    }
    // Quoted: the closing quote on the same line ends it, if nothing in between cannot be in a path.
    if let Some(quote) = text[..start].chars().next_back().filter(|c| matches!(c, '"' | '\''))
        && let Some(close) = rest.find(quote)
    {
        let inside = &rest[..close];
        if close <= 512 && !inside.contains(['\n', '\r', '\t', '<', '>', '|', '*', '?', '"', ':']) {
            return end + close;
        }
    }
    // Unquoted: read on over each ` piece` that goes on with a folder separator.
    let mut at = end;
    loop {
        let Some(after) = text[at..].strip_prefix(' ') else {
            return at;
        };
        let piece_len = after
            .find(|c: char| c == ' ' || NOT_IN_PATH.contains(&c))
            .unwrap_or(after.len());
        let piece = &after[..piece_len];
        let starts_a_path =
            piece.starts_with('\\') || piece.starts_with("...") || piece.as_bytes().get(1) == Some(&b':');
        let goes_on = piece.contains('\\') && !starts_a_path;
        // `C:\a D:\b`: a piece that starts a drive path is a path of its own (its colon stops the piece at `D`).
        let next_is_drive = after.as_bytes().get(1) == Some(&b':') && after.as_bytes()[0].is_ascii_alphabetic();
        if !goes_on || next_is_drive {
            return at;
        }
        at += 1 + piece_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_normalises_paths() {
        let text = r#"failed to bind target "C:\ProgramData\containerd\root\io.containerd.snapshotter.v1.windows\snapshots\13462\Files" to root "C:\Windows\SystemTemp\buildkit-mount1038987703": Zugriff verweigert"#;
        assert_eq!(
            paths_in(text),
            vec![
                r"C:\ProgramData\containerd\root\io.containerd.snapshotter.v1.windows\snapshots\<N>\Files".to_string(),
                r"C:\Windows\SystemTemp\buildkit-mount<RAND>".to_string(),
            ]
        );
    }

    #[test]
    fn volume_and_elided_paths() {
        let text = r#"failed to bind target "\?\Volume{473e53c8-c55d-11ed-9601-ba2be9735a86}\" to root "C:\UnrealEngine" ... {windows-layer ...\snapshots\120494  [rw]}"#;
        assert_eq!(
            paths_in(text),
            vec![
                r"\\?\Volume{<GUID>}".to_string(),
                r"C:\UnrealEngine".to_string(),
                r"...\snapshots\<N>".to_string()
            ]
        );
    }

    #[test]
    fn a_path_with_spaces_is_read_whole_where_its_end_is_clear() {
        // The real text of n80 (microsoft/hcsshim#802): the path ends at its colon.
        let n80 = "C:\\Program Files\\Docker\\docker.exe: Error response from daemon: hcsshim::CreateComputeSystem 1866c87cc2df38013228fbcc9d1ea13070d8bceb597e81d64e5a77109df1621b: Do not attach the filter to the volume at this time.";
        assert_eq!(paths_in(n80), vec![r"C:\Program Files\Docker\docker.exe".to_string()]);
        for (text, expected) in [
            (
                r"open C:\ProgramData\containerd\root\some dir\x",
                vec![r"C:\ProgramData\containerd\root\some dir\x"],
            ),
            (
                r#"copy "C:\Program Files\My App" to "C:\b c": denied"#,
                vec![r"C:\Program Files\My App", r"C:\b c"],
            ),
            (
                r"failed to bind target C:\a to root C:\b: Access is denied.",
                vec![r"C:\a", r"C:\b"],
            ),
            (r"open C:\x for writing: Access is denied.", vec![r"C:\x"]),
            (r"C:\a D:\b c\d", vec![r"C:\a", r"D:\b c\d"]),
            (r#""C:\a" and then "C:\b""#, vec![r"C:\a", r"C:\b"]),
            (
                r"mount {windows-layer ...\snapshots\1  [rw]}",
                vec![r"...\snapshots\<N>"],
            ),
        ] {
            let expected: Vec<String> = expected.into_iter().map(String::from).collect();
            assert_eq!(paths_in(text), expected, "{text}");
        }
    }

    #[test]
    fn keeps_at_most_max_paths() {
        let text: String = (0..20).map(|i| format!(r"C:\dir{i}x ")).collect();
        assert_eq!(paths_in(&text).len(), MAX_PATHS);
    }
}
