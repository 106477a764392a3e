//! Generalisation figure: how the classifier's rules do on corpus samples from sources they were not written for.
//!
//! Run with `cargo bench -p harness --bench generalise`. The classifier is rule-based (nothing is trained), and a rule
//! cannot be removed automatically, so "leave one source out" is defined as follows. The samples of
//! `fixtures/corpus/errors/EXPECTED.tsv` are grouped by source repository (`github.com/<owner>/<repo>` of the
//! sample's URL). `fixtures/corpus/errors/SEEN.tsv` lists the samples the rules were written or tuned with in view. A
//! source is *held out* when none of its samples is in that list: every rule was written without any of them, so its
//! samples measure the rules on a source they never saw. For each source the bench reports the share classified
//! right (the expected class; a deliberate negative expected `unknown` or `none` is right when it gets exactly that),
//! the share classified `unknown` (whatever was expected: what the rules did not recognise), the share given a
//! specific class other than the expected one, and the share missed entirely (a failure classified `none`). Totals
//! follow for all samples, for the samples no rule was written with, and for the held-out sources (the figure that
//! matters).
//!
//! The bench exits non-zero when any sample that is a failure is classified `none`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use harness::classify::{Class, classify};

/// One row of `EXPECTED.tsv`.
struct Sample {
    file: String,
    expected: Option<Class>,
    source: String,
}

/// How one sample came out.
#[derive(Default, Clone, Copy)]
struct Tally {
    samples: usize,
    right: usize,
    unknown: usize,
    wrong: usize,
    missed: usize,
    false_alarm: usize,
}

impl Tally {
    fn add(&mut self, expected: Option<Class>, got: Option<Class>) {
        self.samples += 1;
        if got == Some(Class::Unknown) {
            self.unknown += 1;
        }
        match (expected, got) {
            (e, g) if e == g => self.right += 1,
            (Some(_), None) => self.missed += 1,
            (None, Some(_)) => self.false_alarm += 1,
            (_, Some(Class::Unknown)) => {}
            _ => self.wrong += 1,
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.samples += other.samples;
        self.right += other.right;
        self.unknown += other.unknown;
        self.wrong += other.wrong;
        self.missed += other.missed;
        self.false_alarm += other.false_alarm;
    }

    fn share(&self, n: usize) -> String {
        if self.samples == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * n as f64 / self.samples as f64)
        }
    }

    fn line(&self, label: &str, width: usize) -> String {
        format!(
            "{label:<width$} {:>4} {:>6} {:>8} {:>6} {:>7} {:>6}",
            self.samples,
            self.share(self.right),
            self.share(self.unknown),
            self.share(self.wrong),
            self.share(self.missed),
            self.false_alarm,
        )
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/corpus/errors")
}

fn data_lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

fn samples() -> Vec<Sample> {
    let tsv = std::fs::read_to_string(corpus_dir().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    data_lines(&tsv)
        .map(|cols| {
            assert_eq!(cols.len(), 3, "EXPECTED.tsv row needs file, class, source: {cols:?}");
            let expected = match cols[1] {
                "none" => None,
                name => Some(Class::from_name(name).unwrap_or_else(|| panic!("unknown class {name}"))),
            };
            Sample {
                file: cols[0].to_string(),
                expected,
                source: cols[2].to_string(),
            }
        })
        .collect()
}

fn seen() -> BTreeSet<String> {
    let tsv = std::fs::read_to_string(corpus_dir().join("SEEN.tsv")).expect("SEEN.tsv");
    data_lines(&tsv).map(|cols| cols[0].to_string()).collect()
}

/// `github.com/<owner>/<repo>` of a source URL (the host and first two path segments otherwise).
fn repository(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').take(3).collect::<Vec<_>>().join("/")
}

fn main() -> ExitCode {
    let samples = samples();
    let seen = seen();
    for file in &seen {
        assert!(
            samples.iter().any(|s| &s.file == file),
            "SEEN.tsv names {file}, which has no row in EXPECTED.tsv"
        );
    }

    let mut by_source: BTreeMap<String, (Tally, bool)> = BTreeMap::new();
    let mut all = Tally::default();
    let mut unseen_samples = Tally::default();
    let mut missed = Vec::new();
    for sample in &samples {
        let got = classify(&std::fs::read_to_string(corpus_dir().join(&sample.file)).expect("sample")).class;
        let entry = by_source
            .entry(repository(&sample.source))
            .or_insert((Tally::default(), false));
        entry.0.add(sample.expected, got);
        entry.1 |= seen.contains(&sample.file);
        all.add(sample.expected, got);
        if !seen.contains(&sample.file) {
            unseen_samples.add(sample.expected, got);
        }
        if sample.expected.is_some() && got.is_none() {
            missed.push(sample.file.clone());
        }
    }

    let width = by_source.keys().map(String::len).max().unwrap_or(10).max(40) + 2;
    println!(
        "generalise: leave-one-source-out over fixtures/corpus/errors ({} samples)",
        samples.len()
    );
    println!("  Held out = a source repository none of whose samples the rules were written or tuned with (SEEN.tsv);");
    println!("  rules are not retrained or removed, so a seen source's figure is in-sample and shown for reference.");
    println!(
        "  right = the expected class (a negative expected unknown/none is right when it gets it); unknown = classified\n  unknown, whatever was expected; wrong = a specific class other than the expected one; missed = a failure\n  classified none (must be 0); false = count of samples expected none but given a failure."
    );
    println!();
    let header = format!(
        "{:<width$} {:>4} {:>6} {:>8} {:>6} {:>7} {:>6}",
        "source (held out = *)", "n", "right", "unknown", "wrong", "missed", "false"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut held_out = Tally::default();
    let mut held_out_sources = 0;
    for (source, (tally, was_seen)) in &by_source {
        let label = if *was_seen {
            format!("  {source}")
        } else {
            format!("* {source}")
        };
        println!("{}", tally.line(&label, width));
        if !was_seen {
            held_out.merge(tally);
            held_out_sources += 1;
        }
    }
    println!("{}", "-".repeat(header.len()));
    println!(
        "{}",
        all.line(&format!("all samples ({} sources)", by_source.len()), width)
    );
    println!("{}", unseen_samples.line("samples no rule was written with", width));
    println!(
        "{}",
        held_out.line(&format!("held-out sources ({held_out_sources})"), width)
    );

    if missed.is_empty() {
        println!("\nmissed entirely: none");
        ExitCode::SUCCESS
    } else {
        eprintln!("\nmissed entirely (a failure classified none): {}", missed.join(", "));
        ExitCode::FAILURE
    }
}
