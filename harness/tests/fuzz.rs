//! Time-boxed fuzzing of what hostile input reaches: scenario files (loaded, validated, every problem rendered),
//! `classify` input, and the redaction of any text. Each target runs for `FUZZ_SECONDS` (default 10) and fails with
//! the input that made it panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use harness::scenario::{self, error::Source};

fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(seconds)
}

fn seed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml")
}

/// Runs `check` on values of `strategy` until the budget is spent; panics with the first input that panicked.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(&S::Value))
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::default();
    let deadline = Instant::now() + budget();
    let mut tried = 0u64;
    while Instant::now() < deadline {
        let value = strategy.new_tree(&mut runner).expect("a value").current();
        if catch_unwind(AssertUnwindSafe(|| check(&value))).is_err() {
            panic!("{name}: panicked after {tried} inputs on {value:?}");
        }
        tried += 1;
    }
    eprintln!("{name}: {tried} inputs, no panic");
}

/// The seed scenario with a few of its lines replaced, duplicated or cut, or bytes spliced in anywhere.
fn mutated_seed() -> impl Strategy<Value = String> {
    let seed = std::fs::read_to_string(seed_path()).unwrap();
    let lines = seed.lines().count();
    let edit = (
        0..lines,
        0u8..5,
        prop_oneof![
            "[a-zA-Z0-9:{}\\[\\]&*!|>\t\"' ,#%@`-]{0,24}",
            "\\PC{0,24}",
            Just("\u{1b}[2J\0".to_owned()),
            Just("99999999999999999999".to_owned()),
            Just("- - - - - - - - - - - - -".to_owned()),
            Just(format!("x: {}", "a".repeat(70_000))),
        ],
    );
    prop::collection::vec(edit, 1..6).prop_map(move |edits| {
        let mut lines: Vec<String> = seed.lines().map(str::to_owned).collect();
        for (at, op, junk) in edits {
            let at = at % lines.len().max(1);
            match op {
                0 => {
                    lines.remove(at);
                }
                1 => lines.insert(at, lines[at].clone()),
                2 => lines[at].push_str(&junk),
                3 => lines[at] = junk,
                _ => lines.insert(at, format!("{}{junk}", " ".repeat(at % 9))),
            }
            if lines.is_empty() {
                lines.push(String::new());
            }
        }
        lines.join("\n")
    })
}

#[test]
fn scenario_files_never_panic_the_loader_or_the_renderer() {
    let path = seed_path();
    fuzz("scenario", mutated_seed(), |text| {
        let source = Arc::new(Source {
            name: "fuzz.yaml".to_owned(),
            text: text.clone(),
        });
        if let Err(error) = scenario::from_source(&source, &path) {
            let _ = error.render();
            for problem in error.problems() {
                assert!(problem.line >= 1 && problem.column >= 1);
                assert!(
                    !problem.message.contains(['\u{1b}', '\0']),
                    "raw control character in {problem:?}"
                );
            }
        }
    });
}

#[test]
fn classify_input_never_panics() {
    let corpus: Vec<String> = walk(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/corpus"));
    let pieces = prop::sample::select(corpus);
    let text = prop_oneof![
        "\\PC{0,2000}",
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        (pieces, "\\PC{0,40}", 0usize..4000).prop_map(|(piece, junk, at)| {
            let at = piece.char_indices().map(|(i, _)| i).nth(at).unwrap_or(piece.len());
            format!("{}{junk}{}", &piece[..at], &piece[at..])
        }),
    ];
    fuzz("classify", text, |text| {
        let classification = harness::classify::classify(text);
        let _ = serde_json::to_string(&classification).unwrap();
    });
}

#[test]
fn redaction_never_panics_and_is_stable() {
    fuzz("redact", "\\PC{0,600}", |text| {
        let once = harness::redact::secrets(text).into_owned();
        assert_eq!(harness::redact::secrets(&once), once);
        let _ = harness::redact::one_line(text);
    });
}

/// The text of every file under `dir`.
fn walk(dir: PathBuf) -> Vec<String> {
    let mut texts = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push(text);
            }
        }
    }
    if texts.is_empty() {
        texts.push("hcsshim::ActivateLayer failed in Win32: Access is denied. (0x5)".to_owned());
    }
    texts
}
