//! Pure: raw text from buildkit, containerd, hcsshim, kubelet and probes -> a stable outcome class plus facts.
//!
//! ```
//! use harness::classify::{classify, Class, Stage};
//!
//! let out = classify(r#"#1 ERROR: failed to mount {windows-layer ...\snapshots\120494  [rw]}:
//!   failed to set volume mount path for layer ...\snapshots\120494:
//!   failed to bind target "...\\snapshots\\120494\\Files"
//!   to root "C:\\buildkitd\\tmp\\buildkit-mount1819228504": Zugriff verweigert"#);
//! assert_eq!(out.class, Some(Class::BindfltAccessDenied));
//! assert_eq!(out.stage, Some(Stage::Bind));
//! assert_eq!(out.code.map(|c| c.value), Some(5));
//! assert_eq!(out.rule, Some("bind-access-denied"));
//! ```
//!
//! How it works: [`unescape`] folds every line into a matching key that no escaping level or wrapping changes;
//! [`stream`] joins physical lines into logical records (buildctl `#N ERROR:` framing, wrapped lines, open logrus
//! quotes) and skips debug/info noise and build-step output; for each record [`stage`] reads the wrapper chain and
//! [`code`] the Windows codes (printed as a number or a constant name, or inferred from the message in English or
//! another language); [`rules`] turns chain + code into a class, the most specific cause over the whole input
//! winning. A record that carries a Windows code or a failed HCS operation is a failure unless it says it succeeded
//! ([`rules::reads_as_failure`]); words such as `error` or `failed` are only the fallback.

mod class;
pub mod code;
pub mod declared;
mod decode;
mod paths;
pub mod rules;
pub mod stage;
mod stream;
pub mod table;
pub mod unescape;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod props;

use std::io::BufRead;

use serde::Serialize;

pub use class::{Class, Declared};
pub use code::{Code, CodeKind, CodeSource};
pub use declared::{DeclaredRule, DeclaredRules};
pub use stage::Stage;
pub use stream::{Classifier, MAX_KEY, MAX_LINE, MAX_QUOTE, MAX_RECORD};

/// What a text says happened: the class and the facts that make outcomes comparable across runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The failure class; `None` when there is no failure (nothing, or only benign warnings).
    pub class: Option<Class>,
    /// The Windows error code of the failure (the innermost printed one, else the one its message stands for).
    pub code: Option<Code>,
    /// The step that failed: the rule's own stage, else the innermost wrapper of the chain.
    pub stage: Option<Stage>,
    /// The wrapper chain of the failing record, outermost first.
    pub chain: Vec<Stage>,
    /// The paths the failing record names, normalised (see [`crate::normalize`]).
    pub paths: Vec<String>,
    /// The first record that read like an error, verbatim (capped at [`MAX_QUOTE`] bytes).
    pub first_error: Option<String>,
    /// Its 1-based line number.
    pub first_error_line: Option<usize>,
    /// The record the winning rule matched, verbatim (capped at [`MAX_QUOTE`] bytes).
    pub evidence: Option<String>,
    /// Its 1-based line number.
    pub evidence_line: Option<usize>,
    /// Benign warnings seen (`cdi-unavailable`, `null-network`), in order of first appearance.
    pub warnings: Vec<Class>,
    /// The rule that decided the class (`unrecognised` for `unknown`).
    pub rule: Option<&'static str>,
}

impl Classification {
    /// Whether the text shows a failure.
    pub fn is_failure(&self) -> bool {
        self.class.is_some()
    }

    /// The class name, or `none`.
    pub fn class_name(&self) -> &'static str {
        self.class.map_or("none", Class::as_str)
    }
}

impl std::fmt::Display for Classification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "class: {}", self.class_name())?;
        if let Some(code) = &self.code {
            writeln!(f, "code: {code}")?;
        }
        if let Some(stage) = self.stage {
            writeln!(f, "stage: {stage}")?;
        }
        if !self.chain.is_empty() {
            let chain: Vec<&str> = self.chain.iter().map(|s| s.as_str()).collect();
            writeln!(f, "chain: {}", chain.join(" > "))?;
        }
        if let Some(rule) = self.rule {
            writeln!(f, "rule: {rule}")?;
        }
        for path in &self.paths {
            writeln!(f, "path: {path}")?;
        }
        if !self.warnings.is_empty() {
            let warnings: Vec<&str> = self.warnings.iter().map(|c| c.as_str()).collect();
            writeln!(f, "warnings: {}", warnings.join(", "))?;
        }
        if let (Some(text), Some(line)) = (&self.first_error, self.first_error_line) {
            writeln!(f, "first error (line {line}): {}", first_line(text))?;
        }
        if let (Some(text), Some(line)) = (&self.evidence, self.evidence_line)
            && self.evidence_line != self.first_error_line
        {
            writeln!(f, "evidence (line {line}): {}", first_line(text))?;
        }
        Ok(())
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Classifies a whole text.
pub fn classify(text: &str) -> Classification {
    let mut classifier = Classifier::new();
    classifier.feed_str(text);
    classifier.finish()
}

/// Classifies a whole text with declared rules as well (see [`declared`]).
pub fn classify_with(text: &str, declared: &DeclaredRules) -> Classification {
    let mut classifier = Classifier::with_declared(declared.clone());
    classifier.feed_str(text);
    classifier.finish()
}

/// Classifies a reader line by line in bounded memory (see [`MAX_LINE`], [`MAX_RECORD`], [`MAX_KEY`]). UTF-16 input
/// with a byte-order mark (Windows PowerShell 5 redirection) is decoded; other bytes are read as lossy UTF-8.
pub fn classify_reader(reader: impl BufRead) -> std::io::Result<Classification> {
    stream::classify_reader(reader, DeclaredRules::default())
}

/// [`classify_reader`] with declared rules as well (see [`declared`]).
pub fn classify_reader_with(reader: impl BufRead, declared: &DeclaredRules) -> std::io::Result<Classification> {
    stream::classify_reader(reader, declared.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_and_benign_only_are_not_failures() {
        assert_eq!(classify(""), Classification::default());
        let out = classify("time=\"t\" level=warning msg=\"using null network as the default\"\n");
        assert_eq!((out.class, out.warnings.clone()), (None, vec![Class::NullNetwork]));
        assert!(!out.is_failure());
        assert_eq!(out.to_string(), "class: none\nwarnings: null-network\n");
    }

    #[test]
    fn display_shows_class_and_facts() {
        let out = classify("failed to bind target \"C:\\a\" to root \"C:\\b\": Access is denied.");
        let text = out.to_string();
        assert!(
            text.starts_with(
                "class: bindflt-access-denied\ncode: 0x5 (win32, ERROR_ACCESS_DENIED, from message)\nstage: bind\n"
            ),
            "{text}"
        );
        assert!(text.contains("rule: bind-access-denied"));
        assert!(text.contains("first error (line 1): failed to bind target"));
    }

    #[test]
    fn json_has_the_agreed_fields() {
        let out = classify("hcsshim::PrepareLayer - failed failed in Win32: Incorrect function. (0x1)");
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["class"], "layer-prepare-failed");
        assert_eq!(json["code"]["hex"], "0x1");
        assert_eq!(json["stage"], "prepare");
        assert_eq!(json["rule"], "prepare-failed");
        assert_eq!(
            json["first_error"],
            "hcsshim::PrepareLayer - failed failed in Win32: Incorrect function. (0x1)"
        );
    }

    #[test]
    fn reader_and_str_agree() {
        let text =
            "#1 ERROR: failed to mount {x}:\n  failed to bind target \"a\"\n  to root \"b\": Access is denied.\n";
        assert_eq!(classify_reader(text.as_bytes()).unwrap(), classify(text));
    }
}
