//! The streaming classifier: physical lines -> logical records -> rule verdicts, in linear time and bounded memory.
//!
//! Physical lines are joined into logical records first: buildctl's `#N ERROR:` framing continues on indented
//! lines; a logrus/JSON line continues while a quoted value is open (a terminal wrapped `msg="..."`); any other
//! line (plain, dated, klog, buildctl) continues on the next one when it ends mid-sentence (`:`, `,`, a letter) and
//! the next one does not start a new structured record (`#N `, `time=`, `level=`, `{`, a date, a klog header). Blank lines end a record. Only the current record (capped), the first error, the best match
//! and the warnings are kept, never the log.

use std::io::BufRead;

use super::code::{best_code, codes_in};
use super::declared::DeclaredRules;
use super::paths::paths_in;
use super::rules::{self, Facts};
use super::stage::{chain_in, distinct};
use super::unescape::{collapse, fold_key, key_of, quote_open_after};
use super::{Class, Classification};

/// A record's matching key is capped at this many bytes.
pub const MAX_KEY: usize = 64 * 1024;
/// A record's verbatim text is capped at this many bytes.
pub const MAX_RECORD: usize = 16 * 1024;
/// `first_error` and `evidence` are cut to this many bytes.
pub const MAX_QUOTE: usize = 4 * 1024;
/// A physical line longer than this is cut (the rest is skipped unread into memory).
pub const MAX_LINE: usize = 1024 * 1024;

/// A log level, when the line says one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Quiet,
    Warning,
    Error,
    Unlevelled,
}

#[derive(Debug, Default)]
struct Record {
    active: bool,
    /// A format that escapes its newlines (logrus, JSON): only indented lines or an open quote continue it.
    single_line: bool,
    quote_open: bool,
    last_incomplete: bool,
    /// Debug/info/trace records and buildctl step output are skipped whole.
    skip: bool,
    level: Option<Level>,
    line: usize,
    text: String,
    key: String,
}

#[derive(Debug, Clone)]
struct Found {
    verdict: rules::Verdict,
    code: Option<super::Code>,
    chain: Vec<super::Stage>,
    paths: Vec<String>,
    evidence: String,
    line: usize,
}

/// Classifies a text fed line by line. Feed with [`Classifier::feed_line`] (or [`Classifier::feed_str`]), then
/// call [`Classifier::finish`].
#[derive(Debug, Default)]
pub struct Classifier {
    line_no: usize,
    record: Record,
    best: Option<Found>,
    first_error: Option<(String, usize)>,
    warnings: Vec<Class>,
    declared: DeclaredRules,
}

impl Classifier {
    /// A classifier that has seen nothing.
    pub fn new() -> Classifier {
        Classifier::default()
    }

    /// A classifier that also applies declared rules to records the built-in rules leave `unknown`.
    pub fn with_declared(declared: DeclaredRules) -> Classifier {
        Classifier {
            declared,
            ..Classifier::default()
        }
    }

    /// Feeds a text of whole lines.
    pub fn feed_str(&mut self, text: &str) {
        for line in text.lines() {
            self.feed_line(line);
        }
    }

    /// Feeds one physical line (without its line ending).
    pub fn feed_line(&mut self, line: &str) {
        self.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            self.end_record();
            return;
        }
        if self.record.active && self.continues(line) {
            self.append(line);
        } else {
            self.end_record();
            self.start(line);
        }
    }

    /// Ends the input and returns the classification.
    pub fn finish(mut self) -> Classification {
        self.end_record();
        let (first_error, first_error_line) = match self.first_error {
            Some((text, line)) => (Some(text), Some(line)),
            None => (None, None),
        };
        match self.best {
            Some(found) => Classification {
                class: Some(found.verdict.class),
                code: found.code,
                stage: found.verdict.stage,
                chain: found.chain,
                paths: found.paths,
                first_error,
                first_error_line,
                evidence: Some(found.evidence),
                evidence_line: Some(found.line),
                warnings: self.warnings,
                rule: Some(found.verdict.rule),
            },
            None => Classification {
                warnings: self.warnings,
                first_error,
                first_error_line,
                ..Classification::default()
            },
        }
    }

    fn continues(&self, line: &str) -> bool {
        if self.record.key.len() >= MAX_KEY || self.record.text.len() >= MAX_RECORD {
            return false;
        }
        if self.record.quote_open {
            return true;
        }
        if self.record.skip {
            return false;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented {
            return true;
        }
        !self.record.single_line && self.record.last_incomplete && !structured_start(line)
    }

    fn start(&mut self, line: &str) {
        let r = &mut self.record;
        r.active = true;
        r.line = self.line_no;
        r.single_line = line.starts_with("time=") || line.starts_with("level=") || line.starts_with('{');
        r.quote_open = r.single_line && quote_open_after(line, false);
        r.last_incomplete = incomplete(line);
        r.text.clear();
        r.key.clear();
        r.level = None;
        r.skip = step_output(line);
        if !r.skip {
            let level = level_of(line);
            r.skip = level == Level::Quiet && !might_be_benign(line);
            r.level = Some(level);
        }
        if !r.skip {
            push_capped(&mut r.text, line, MAX_RECORD);
            fold_key(line, &mut r.key, MAX_KEY);
        }
    }

    fn append(&mut self, line: &str) {
        let r = &mut self.record;
        if r.quote_open || r.single_line {
            r.quote_open = quote_open_after(line, r.quote_open);
        }
        r.last_incomplete = incomplete(line);
        if r.skip {
            return;
        }
        if r.text.len() < MAX_RECORD {
            r.text.push('\n');
            push_capped(&mut r.text, line, MAX_RECORD);
        }
        fold_key(line, &mut r.key, MAX_KEY);
    }

    fn end_record(&mut self) {
        if !self.record.active {
            return;
        }
        self.record.active = false;
        if self.record.skip {
            return;
        }
        let level = self.record.level.unwrap_or(Level::Unlevelled);
        let key = self.record.key.as_str();
        let benign = rules::benign(key);
        if let Some((class, _)) = benign
            && !self.warnings.contains(&class)
        {
            self.warnings.push(class);
        }
        if matches!(level, Level::Quiet | Level::Warning) {
            return;
        }
        let chain = chain_in(key);
        let codes = codes_in(key);
        let collapsed = collapse(&self.record.text);
        let facts = Facts {
            key,
            text: &collapsed,
            chain: &chain,
            codes: &codes,
        };
        let verdict = match rules::evaluate(&facts) {
            Some(v) => v,
            // A benign warning's own wording ("CDI setup error") does not make it an unknown failure.
            None if benign.is_some() => return,
            // What the built-ins leave unknown, a declared rule may claim.
            None if level == Level::Error || rules::reads_as_failure(key, &codes) => {
                self.declared.evaluate(&facts).unwrap_or_else(|| rules::unknown(&facts))
            }
            None => return,
        };
        let (from, skipped) = error_start(&self.record.text);
        let line = self.record.line + skipped;
        let quoted = quote(&self.record.text[from..]);
        if self.first_error.is_none() {
            self.first_error = Some((quoted.clone(), line));
        }
        if self
            .best
            .as_ref()
            .is_some_and(|b| b.verdict.priority >= verdict.priority)
        {
            return;
        }
        self.best = Some(Found {
            verdict,
            code: best_code(&codes),
            chain: distinct(&chain),
            paths: paths_in(&collapsed),
            evidence: quoted,
            line,
        });
    }
}

/// Classifies a reader line by line; lines need not be valid UTF-8 (they are read lossily) and are cut at
/// [`MAX_LINE`] bytes, so memory stays bounded whatever the input.
pub fn classify_reader(reader: impl BufRead, declared: DeclaredRules) -> std::io::Result<Classification> {
    let mut reader = super::decode::utf8_reader(reader)?;
    let mut classifier = Classifier::with_declared(declared);
    let mut line = Vec::new();
    loop {
        line.clear();
        let (read_any, _) = read_line_capped(&mut reader, &mut line)?;
        if !read_any {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        classifier.feed_line(text.strip_suffix('\n').unwrap_or(&text));
    }
    Ok(classifier.finish())
}

/// Reads up to and including the next `\n`, keeping at most [`MAX_LINE`] bytes. Returns whether anything was read
/// and whether the line was cut.
fn read_line_capped(reader: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<(bool, bool)> {
    let mut read_any = false;
    let mut cut = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((read_any, cut));
        }
        read_any = true;
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = MAX_LINE.saturating_sub(out.len());
        if chunk.len() > room {
            cut = true;
        }
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        reader.consume(used);
        if done {
            return Ok((read_any, cut));
        }
    }
}

fn push_capped(out: &mut String, text: &str, cap: usize) {
    let room = cap.saturating_sub(out.len());
    if text.len() <= room {
        out.push_str(text);
    } else {
        out.push_str(&text[..floor_boundary(text, room)]);
    }
}

/// Where the quoted part of a record starts: its first line that reads like an error or names a wrapper step
/// (leading lines joined only because they ended mid-sentence are dropped). Returns (byte offset, lines skipped).
fn error_start(text: &str) -> (usize, usize) {
    let mut offset = 0;
    for (i, line) in text.split('\n').enumerate() {
        let key = key_of(line);
        if rules::reads_as_failure(&key, &codes_in(&key)) || !chain_in(&key).is_empty() {
            return (offset, i);
        }
        offset += line.len() + 1;
    }
    (0, 0)
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0)
}

fn quote(text: &str) -> String {
    let mut out = String::new();
    push_capped(&mut out, text, MAX_QUOTE);
    out
}

/// A line that opens a structured record: logrus, JSON, klog, an ISO/slash date, buildctl `#N`, `[digits`.
fn structured_start(line: &str) -> bool {
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    match b.first() {
        Some(b'#') => {
            let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            n > 0 && b.get(1 + n) == Some(&b' ')
        }
        Some(b'{') => true,
        Some(b'[') => digit(1),
        Some(b'I' | b'W' | b'E' | b'F') => (1..5).all(digit) && b.get(5) == Some(&b' '),
        Some(c) if c.is_ascii_digit() => (0..4).all(digit) && matches!(b.get(4), Some(b'-' | b'/')) && digit(5),
        _ => line.starts_with("time=") || line.starts_with("level="),
    }
}

/// buildctl's echo of a step's own output: `#5 1.388 text`.
fn step_output(line: &str) -> bool {
    let b = line.as_bytes();
    if b.first() != Some(&b'#') {
        return false;
    }
    let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || b.get(1 + n) != Some(&b' ') {
        return false;
    }
    let rest = &b[2 + n..];
    let int = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    int > 0 && rest.get(int) == Some(&b'.') && {
        let frac = rest[int + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        frac > 0 && matches!(rest.get(int + 1 + frac), Some(b' ') | None)
    }
}

/// Whether a line ends mid-sentence, so that a plain next line continues it.
fn incomplete(line: &str) -> bool {
    match line.trim_end().chars().next_back() {
        Some(c) => c.is_alphanumeric() || matches!(c, ':' | ',' | '-' | '(' | '{' | '[' | '/' | '\\' | '=' | '"'),
        None => false,
    }
}

/// Only warnings and info lines that mention these can carry a benign start-up warning.
fn might_be_benign(line: &str) -> bool {
    line.contains("CDI") || line.contains("cdi") || line.contains("null network")
}

/// The level a line declares in its first 160 bytes: logrus `level=`, JSON `"level":`/`"severity":`, klog
/// `E0415 `, Docker Desktop `] debug: `.
fn level_of(line: &str) -> Level {
    let head = &line[..floor_boundary(line, 160)];
    let word = ["level=", "\"level\":", "\"severity\":"].iter().find_map(|tag| {
        let at = head.find(tag)? + tag.len();
        let rest = head[at..].trim_start_matches(['"', ' ']);
        let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        Some(&rest[..end])
    });
    if let Some(word) = word {
        let is = |names: &[&str]| names.iter().any(|n| word.eq_ignore_ascii_case(n));
        return if is(&["trace", "debug", "info", "notice"]) {
            Level::Quiet
        } else if is(&["warn", "warning"]) {
            Level::Warning
        } else if is(&["error", "fatal", "panic", "critical"]) {
            Level::Error
        } else {
            Level::Unlevelled
        };
    }
    let b = line.as_bytes();
    if b.len() > 5 && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b' ' {
        match b[0] {
            b'I' => return Level::Quiet,
            b'W' => return Level::Warning,
            b'E' | b'F' => return Level::Error,
            _ => {}
        }
    }
    if head.contains("] debug: ") {
        return Level::Quiet;
    }
    Level::Unlevelled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_of(r#"time="x" level=debug msg="failed""#), Level::Quiet);
        assert_eq!(level_of(r#"time="x" level=warning msg="x""#), Level::Warning);
        assert_eq!(level_of(r#"{"level":"error","message":"x"}"#), Level::Error);
        assert_eq!(level_of(r#"{"severity":"DEBUG"}"#), Level::Quiet);
        assert_eq!(level_of("E0415 17:18:58.469449   46838 pod_workers.go"), Level::Error);
        assert_eq!(level_of("I0415 17:18:58.469449   46838 x"), Level::Quiet);
        assert_eq!(
            level_of("[14:37:29.425][WindowsDaemon  ][Info   ] debug: hcsshim::ActivateLayer"),
            Level::Quiet
        );
        assert_eq!(level_of("Error response from daemon"), Level::Unlevelled);
    }

    #[test]
    fn record_starts_and_step_output() {
        assert!(structured_start("#12 ERROR: x"));
        assert!(!structured_start("#x"));
        assert!(structured_start("2025-11-04T15:01:50 csi"));
        assert!(structured_start("time=\"x\""));
        assert!(structured_start("E0109 14:03:00.426806"));
        assert!(!structured_start("Error: failed"));
        assert!(step_output("#5 1.388 Access is denied."));
        assert!(step_output("#5 0.1"));
        assert!(!step_output("#5 ERROR: process"));
        assert!(!step_output("#5 [2/3] RUN x"));
    }

    #[test]
    fn joins_buildctl_framing_and_splits_records() {
        let mut c = Classifier::new();
        c.feed_str("#1 ERROR: failed to mount {x}:\n  failed to bind target \"a\"\n  to root \"b\": Access is denied.\n#2 DONE 0.1s\n");
        let out = c.finish();
        assert_eq!(out.class, Some(Class::BindfltAccessDenied));
        assert_eq!(out.evidence_line, Some(1));
        assert!(out.evidence.as_deref().unwrap().ends_with("Access is denied."));
    }

    #[test]
    fn joins_a_wrapped_logrus_message_by_its_open_quote() {
        let mut c = Classifier::new();
        c.feed_line(r#"time="t" level=error msg="failed to bind target \"a\" to root \"b\": Zugr"#);
        c.feed_line(r#"iff verweigert" spanID=1"#);
        let out = c.finish();
        assert_eq!(out.class, Some(Class::BindfltAccessDenied));
        assert_eq!(out.code.map(|c| c.value), Some(5));
    }

    #[test]
    fn debug_noise_and_step_output_are_not_failures() {
        let mut c = Classifier::new();
        c.feed_line(r#"time="t" level=debug msg="failed to bind target: Access is denied.""#);
        c.feed_line("#5 1.388 Access is denied.");
        let out = c.finish();
        assert_eq!(out.class, None);
        assert_eq!(out.first_error, None);
    }

    #[test]
    fn benign_warnings_never_hide_a_failure_in_the_same_record() {
        let mut c = Classifier::new();
        c.feed_line("CDI setup error C:\\cdi: failed to monitor for changes");
        c.feed_line("");
        c.feed_line(
            "time=\"t\" level=error msg=\"CDI setup error x; failed to bind target a to root b: Access is denied.\"",
        );
        let out = c.finish();
        assert_eq!(out.class, Some(Class::BindfltAccessDenied));
        assert_eq!(out.warnings, vec![Class::CdiUnavailable]);
        assert_eq!(out.first_error_line, Some(3));
    }

    #[test]
    fn unrecognised_error_is_unknown_with_its_first_line() {
        let mut c = Classifier::new();
        c.feed_str("all good\nsomething exploded: error 42\n");
        let out = c.finish();
        assert_eq!(out.class, Some(Class::Unknown));
        assert_eq!(out.first_error.as_deref(), Some("something exploded: error 42"));
        assert_eq!(out.first_error_line, Some(2));
    }

    #[test]
    fn windows_evidence_without_error_words_is_no_silent_miss() {
        for (text, class, value) in [
            ("STATUS_ACCESS_DENIED\n", Class::Unknown, 0xc000_0022),
            (
                "Cannot create a file when that file already exists. (0xb7): unknown\n",
                Class::FileExists,
                0xb7,
            ),
            (
                "hcs::System::Start 1a2b: The request is not supported.\n",
                Class::Unknown,
                0x32,
            ),
        ] {
            let mut c = Classifier::new();
            c.feed_str(text);
            let out = c.finish();
            assert_eq!(
                (out.class, out.code.map(|c| c.value)),
                (Some(class), Some(value)),
                "{text}"
            );
            assert_eq!(out.first_error_line, Some(1), "{text}");
        }
        let mut c = Classifier::new();
        c.feed_str("hcs::System::Start 1a2b: The request is not supported.\n");
        assert_eq!(c.finish().stage, Some(crate::classify::Stage::Start));
    }

    #[test]
    fn success_lines_and_benign_warnings_stay_no_failure() {
        let mut c = Classifier::new();
        c.feed_str(concat!(
            "hcsshim::ActivateLayer  - succeeded id=2182 flavour=1\n\n",
            "retry after ERROR_SHARING_VIOLATION succeeded\n\n",
            "CDI setup error C:\\cdi: failed to monitor for changes: GetFileAttributes: The system cannot find the file specified.\n\n",
            "using null network as the default\n",
        ));
        let out = c.finish();
        assert_eq!(out.class, None);
        assert_eq!(out.first_error, None);
        assert_eq!(out.warnings, vec![Class::CdiUnavailable, Class::NullNetwork]);
    }

    #[test]
    fn most_specific_wins_regardless_of_order() {
        let mut c = Classifier::new();
        c.feed_str("error: context canceled\n\nfailed to activate layer x: hcsshim::ActivateLayer failed in Win32: Incorrect function. (0x1)\n");
        let out = c.finish();
        assert_eq!(out.class, Some(Class::LayerActivateFailed));
        assert_eq!(out.first_error.as_deref(), Some("error: context canceled"));
    }

    #[test]
    fn reader_decodes_utf16_from_powershell_redirection() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "noise\r\nfailed to bind target \"a\" to root \"b\": Zugriff verweigert\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let out = classify_reader(std::io::Cursor::new(bytes), DeclaredRules::default()).unwrap();
        assert_eq!(out.class, Some(Class::BindfltAccessDenied));
        assert_eq!(out.evidence_line, Some(2));
    }

    #[test]
    fn reader_caps_long_lines_and_reads_invalid_utf8() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nfailed to bind target \"a\" to root \"b\": Access is denied. \xff\n");
        let out = classify_reader(std::io::Cursor::new(input), DeclaredRules::default()).unwrap();
        assert_eq!(out.class, Some(Class::BindfltAccessDenied));
        assert_eq!(out.evidence_line, Some(2));
    }
}
