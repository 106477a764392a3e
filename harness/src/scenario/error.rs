//! Problems found in a scenario file, each pointing at the line and column it is about, with a hint what to do.

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// A file's text, named as the user wrote its path.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// The byte offset of a 1-based line and character column, clamped to the text.
    pub fn offset_of(&self, line: u64, column: u64) -> usize {
        let start = self
            .text
            .split_inclusive('\n')
            .take(line.saturating_sub(1) as usize)
            .map(str::len)
            .sum::<usize>();
        let rest = &self.text[start.min(self.text.len())..];
        let within = rest
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(rest.len(), |(i, _)| i);
        (start + within).min(self.text.len())
    }
}

/// One located problem in a scenario or a file it references.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
#[diagnostic(code(harness::scenario))]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `line:column` of `source`, `len` bytes long.
    /// The span never reaches past its line, and the text shown is made printable: a diagnostic echoes at most the
    /// offending line of a file, and never a raw control character.
    pub fn at(source: &Source, line: u64, column: u64, len: usize, message: impl Into<String>) -> Problem {
        let offset = source.offset_of(line, column);
        let line_start = source.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source.text[offset..]
            .find('\n')
            .map_or(source.text.len(), |i| offset + i);
        let len = len.min(line_end - offset);
        // Only the offending line is kept for the snippet (after as many empty lines as precede it, so the line
        // number shown is right): a diagnostic never echoes the rest of a file.
        let preceding = source.text[..line_start].matches('\n').count();
        let snippet = "\n".repeat(preceding) + &printable_snippet(&source.text[line_start..line_end]);
        Problem {
            file: crate::redact::printable(&source.name).into_owned(),
            line,
            column,
            message: crate::redact::printable(&message.into()).into_owned(),
            source_code: NamedSource::new(crate::redact::printable(&source.name), snippet),
            span: (preceding + offset - line_start, len).into(),
            label: "here".to_owned(),
            help: None,
        }
    }

    /// What the label under the offending span says.
    pub fn label(mut self, label: impl Into<String>) -> Problem {
        self.label = label.into();
        self
    }

    /// What the user can do about it.
    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }
}

/// `text` with every control character but newline, carriage return and tab replaced by `?` (as many as its UTF-8
/// bytes, so spans keep their byte offsets).
fn printable_snippet(text: &str) -> String {
    let hostile = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hostile) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if hostile(c) {
                "?".repeat(c.len_utf8())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    #[diagnostic(code(harness::read), help("check that the path exists and is readable"))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in {file}", problems.len())]
    #[diagnostic(code(harness::invalid))]
    Invalid {
        file: String,
        #[related]
        problems: Vec<Problem>,
    },
}

impl Error {
    /// The located problems, if any.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Read { .. } => &[],
            Error::Invalid { problems, .. } => problems,
        }
    }
}

/// A diagnostic as the user reads it: with colour on a terminal, plain (but still with the snippet) otherwise.
pub fn render(diagnostic: &dyn Diagnostic) -> String {
    use std::io::IsTerminal;
    // Off a terminal (CI logs, pipes) nothing is wrapped, so `file:line:column: message` stays on one line for grep.
    let (theme, width) = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        (miette::GraphicalTheme::unicode(), 100)
    } else {
        (miette::GraphicalTheme::unicode_nocolor(), 400)
    };
    // miette's snippet cannot mark a column past 65,535 (its formatting width panics): such a problem, on an
    // absurdly long line, is told without the snippet.
    if label_columns(diagnostic).any(|column| column > MAX_SNIPPET_COLUMN) {
        return match diagnostic.help() {
            Some(help) => format!("{diagnostic}\n  help: {help}"),
            None => diagnostic.to_string(),
        };
    }
    let mut out = String::new();
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(width);
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = diagnostic.to_string();
    }
    out
}

/// The furthest column (in bytes, a tab counting four) at which a snippet marks a problem.
const MAX_SNIPPET_COLUMN: usize = 16_000;

/// The column of each labelled span of `diagnostic` in its source.
fn label_columns(diagnostic: &dyn Diagnostic) -> impl Iterator<Item = usize> + '_ {
    let source = diagnostic.source_code();
    diagnostic
        .labels()
        .into_iter()
        .flatten()
        .filter_map(move |label| Some(source?.read_span(label.inner(), 0, 0).ok()?.column()))
}

impl Error {
    /// Every problem rendered, one after another (a read error on its own).
    pub fn render(&self) -> String {
        match self {
            Error::Read { .. } => render(self),
            Error::Invalid { problems, .. } => problems.iter().map(|p| render(p)).collect::<Vec<_>>().join("\n"),
        }
    }
}
