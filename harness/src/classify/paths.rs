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
pub fn paths_in(collapsed: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in PATH.find_iter(collapsed) {
        let raw = m.as_str().trim_end_matches(['.', '\\']);
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
    fn keeps_at_most_max_paths() {
        let text: String = (0..20).map(|i| format!(r"C:\dir{i}x ")).collect();
        assert_eq!(paths_in(&text).len(), MAX_PATHS);
    }
}
