//! Property tests: the class of every corpus sample survives re-escaping, wrapping, log noise and normalisation.

use proptest::prelude::*;

use super::corpus::samples;
use super::{Class, classify};
use crate::normalize::normalize;

/// Escapes a text the way logrus quotes a `msg` value (Go `%q` without the outer quotes).
fn logrus_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Wraps a sample as one logrus error line, `levels` times escaped (a log quoted inside a log).
fn as_logrus(text: &str, levels: usize) -> String {
    let mut msg = text.replace('\n', " ");
    for _ in 0..levels {
        msg = logrus_escape(&msg);
    }
    format!(r#"time="2026-03-18T10:00:00Z" level=error msg="{msg}" spanID=0140e0b624168def"#)
}

/// Wraps a sample as one JSON log record, its text as a JSON string.
fn as_json(text: &str) -> String {
    let record = serde_json::json!({"level": "error", "msg": text.replace('\n', " ")});
    serde_json::to_string(&record).expect("json")
}

/// Hard-wraps every line at `width` columns, continuation lines indented like buildctl's framing.
fn wrap_indented(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        for (i, chunk) in chars.chunks(width.max(1)).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.extend(chunk);
            out.push('\n');
        }
    }
    out
}

/// Word-wraps every line at about `width` columns without indentation, like a terminal copy.
fn wrap_words(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut col = 0;
        for (i, word) in line.split(' ').enumerate() {
            if i > 0 {
                if col + word.len() > width && col > 0 && !word.is_empty() {
                    out.push('\n');
                    col = 0;
                } else {
                    out.push(' ');
                    col += 1;
                }
            }
            out.push_str(word);
            col += word.len();
        }
        out.push('\n');
    }
    out
}

/// Typical buildkitd debug/info noise.
fn noise_line(i: usize) -> String {
    match i % 5 {
        0 => format!(r#"time="2026-03-18T10:00:{:02}Z" level=debug msg="session started" spanID={i:016x}"#, i % 60),
        1 => r#"time="2026-03-18T10:00:01Z" level=debug msg="hcsshim::ActivateLayer - succeeded" path="C:\\ProgramData\\containerd\\snapshots\\7""#.to_string(),
        2 => r#"time="2026-03-18T10:00:02Z" level=info msg="running server on [::]:1234""#.to_string(),
        3 => format!(r#"time="2026-03-18T10:00:03Z" level=debug msg="> creating {i:x} [cmd /S /C echo failed]""#),
        _ => "#3 DONE 0.1s".to_string(),
    }
}

fn with_noise(text: &str, before: usize, after: usize) -> String {
    let mut out = String::new();
    for i in 0..before {
        out.push_str(&noise_line(i));
        out.push('\n');
    }
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    for i in 0..after {
        out.push_str(&noise_line(i + 7));
        out.push('\n');
    }
    out
}

/// Samples whose class is a failure decided by a rule (the ones logrus/JSON re-escaping applies to: a single
/// record, no multi-record framing such as buildctl step output).
fn single_record_failures() -> Vec<(String, String, Class)> {
    samples()
        .into_iter()
        .filter_map(|s| {
            let class = s.expected?;
            let framed = s.text.lines().any(|l| l.starts_with('#'));
            (class != Class::Unknown && !framed).then_some((s.file, s.text, class))
        })
        .collect()
}

fn all_samples() -> Vec<(String, String, Option<Class>)> {
    samples().into_iter().map(|s| (s.file, s.text, s.expected)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn class_survives_logrus_re_escaping(index in any::<prop::sample::Index>(), levels in 1usize..4) {
        let samples = single_record_failures();
        let (file, text, class) = &samples[index.index(samples.len())];
        let line = as_logrus(text, levels);
        prop_assert_eq!(classify(&line).class, Some(*class), "{} as {}", file, line);
    }

    #[test]
    fn class_survives_json_encoding(index in any::<prop::sample::Index>(), nested in any::<bool>()) {
        let samples = single_record_failures();
        let (file, text, class) = &samples[index.index(samples.len())];
        let mut line = as_json(text);
        if nested {
            line = as_json(&line);
        }
        prop_assert_eq!(classify(&line).class, Some(*class), "{} as {}", file, line);
    }

    #[test]
    fn class_survives_indented_wrapping(index in any::<prop::sample::Index>(), width in 8usize..120) {
        let samples = all_samples();
        let (file, text, class) = &samples[index.index(samples.len())];
        let wrapped = wrap_indented(text, width);
        prop_assert_eq!(classify(&wrapped).class, *class, "{} wrapped:\n{}", file, wrapped);
    }

    #[test]
    fn class_survives_word_wrapping(index in any::<prop::sample::Index>(), width in 20usize..120) {
        let samples = all_samples();
        let (file, text, class) = &samples[index.index(samples.len())];
        let wrapped = wrap_words(text, width);
        prop_assert_eq!(classify(&wrapped).class, *class, "{} wrapped:\n{}", file, wrapped);
    }

    #[test]
    fn class_survives_surrounding_noise(index in any::<prop::sample::Index>(), before in 0usize..40, after in 0usize..40) {
        let samples = all_samples();
        let (file, text, class) = &samples[index.index(samples.len())];
        let noisy = with_noise(text, before, after);
        prop_assert_eq!(classify(&noisy).class, *class, "{} in noise:\n{}", file, noisy);
    }

    #[test]
    fn class_survives_normalisation(index in any::<prop::sample::Index>()) {
        let samples = all_samples();
        let (file, text, class) = &samples[index.index(samples.len())];
        prop_assert_eq!(classify(&normalize(text)).class, *class, "{} normalised", file);
    }

    #[test]
    fn classify_never_panics_and_stays_bounded(text in "\\PC{0,400}") {
        let out = classify(&text);
        prop_assert!(out.first_error.as_ref().is_none_or(|e| e.len() <= super::MAX_QUOTE));
        prop_assert!(out.paths.len() <= 8);
    }
}
