//! Property tests: the class of every corpus sample survives re-escaping, wrapping, log noise and normalisation, and
//! every Windows message or code name the classifier knows is a failure with its code, however it is dressed.

use proptest::prelude::*;

use super::code::{MESSAGES, NAMES};
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

/// Hard-wraps every line at `width` columns, continuation lines indented like buildctl's framing. Trailing blanks
/// are dropped first, as a terminal copy drops them (a continuation of blanks only would read as a blank line).
fn wrap_indented(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let chars: Vec<char> = line.trim_end().chars().collect();
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

/// A message (key form) or name in a random case, with spaces at the given byte positions (the key ignores both).
fn dress(text: &str, upper: &[bool], spaces: &[usize]) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if spaces.contains(&i) && i > 0 {
            out.push(' ');
        }
        let mut up = c.to_uppercase();
        match (upper.get(i % upper.len().max(1)).copied().unwrap_or(false), up.len()) {
            (true, 1) => out.extend(up.next()),
            _ => out.push(c),
        }
    }
    out
}

/// Wraps a one-line text the way a record can reach the classifier: as is, as an unlevelled JSON record, as a logrus
/// error line, or hard-wrapped with indented continuations.
fn wrapped_as(text: &str, how: usize, width: usize) -> String {
    match how % 4 {
        0 => text.to_string(),
        1 => serde_json::to_string(&serde_json::json!({"msg": text})).expect("json"),
        2 => as_logrus(text, 1),
        _ => wrap_indented(text, width),
    }
}

/// A small deterministic generator (SplitMix64), so that one proptest case can dress every row of the table
/// differently and a failure still shrinks to its seed.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A text in random case, at a random escaping level (none, logrus quoted once to three times, JSON, JSON in JSON),
/// then perhaps hard-wrapped with indented continuations (a wrapped JSON record would not be one record any more).
fn dressed_at_random(text: &str, rng: &mut Mix) -> String {
    let upper: Vec<bool> = (0..1 + rng.below(7)).map(|_| rng.below(2) == 1).collect();
    let text = dress(text, &upper, &[]);
    let escaped = match rng.below(6) {
        0 => text,
        1..=3 => as_logrus(&text, rng.below(3) + 1),
        4 => as_json(&text),
        _ => as_json(&as_json(&text)),
    };
    if rng.below(2) == 0 && !escaped.starts_with('{') {
        wrap_indented(&escaped, 8 + rng.below(60))
    } else {
        escaped
    }
}

/// Whether a code's name says it succeeded (`ERROR_FSFILTER_OP_COMPLETED_SUCCESSFULLY`): alone, it is rightly no
/// failure (see [`super::rules::reads_as_failure`]).
fn names_a_success(name: &str) -> bool {
    super::rules::reads_as_success(&name.to_ascii_lowercase())
}

/// Go error wrappers, some with an error word and some without one.
const GO_WRAPPERS: &[&str] = &[
    "failed to mount {windows-layer C:\\s\\4  [rw]}: ",
    r"open C:\ProgramData\containerd\root\x: ",
    "container 1a2b3c: ",
    r"hcsshim::PrepareLayer C:\s\4: ",
    "hcs::CreateComputeSystem 1a2b: ",
    "rpc error: code = Unknown desc = ",
    "mount source \"C:\\x\": ",
    "layer sha256:9f1e: ",
    "task 1a2b: ",
];

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

    #[test]
    fn every_known_message_alone_yields_its_code(
        index in any::<prop::sample::Index>(),
        upper in prop::collection::vec(any::<bool>(), 1..8),
        spaces in prop::collection::vec(0usize..80, 0..4),
        how in 0usize..4,
        width in 8usize..60,
    ) {
        let (message, value) = MESSAGES[index.index(MESSAGES.len())];
        let text = wrapped_as(&dress(message, &upper, &spaces), how, width);
        let out = classify(&text);
        prop_assert!(out.class.is_some(), "{} as {:?}", message, text);
        prop_assert_eq!(out.code.map(|c| c.value), Some(value), "{} as {:?}", message, text);
    }

    #[test]
    fn every_known_name_alone_yields_its_code(
        index in any::<prop::sample::Index>(),
        upper in prop::collection::vec(any::<bool>(), 1..8),
        how in 0usize..4,
        width in 8usize..60,
    ) {
        let (value, name) = NAMES[index.index(NAMES.len())];
        prop_assume!(!names_a_success(name));
        let text = wrapped_as(&dress(name, &upper, &[]), how, width);
        let out = classify(&text);
        prop_assert!(out.class.is_some(), "{} as {:?}", name, text);
        prop_assert_eq!(out.code.map(|c| c.value), Some(value), "{} as {:?}", name, text);
    }

    #[test]
    fn a_windows_message_in_a_go_wrapper_chain_is_never_no_failure(
        index in any::<prop::sample::Index>(),
        chain in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        upper in prop::collection::vec(any::<bool>(), 1..8),
        how in 0usize..4,
        width in 8usize..60,
    ) {
        let (message, _) = MESSAGES[index.index(MESSAGES.len())];
        let mut text: String = chain.iter().map(|i| GO_WRAPPERS[i.index(GO_WRAPPERS.len())]).collect();
        text.push_str(&dress(message, &upper, &[]));
        let text = wrapped_as(&text, how, width);
        prop_assert!(classify(&text).class.is_some(), "{:?}", text);
    }
}

proptest! {
    // Each case walks the whole table (about a thousand rows), dressing every row its own way.
    #![proptest_config(ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_message_of_the_table_alone_yields_its_code(seed in any::<u64>()) {
        let mut rng = Mix(seed);
        for &(message, value) in MESSAGES.iter() {
            let text = dressed_at_random(message, &mut rng);
            let out = classify(&text);
            prop_assert!(out.class.is_some(), "{} as {:?}", message, text);
            prop_assert_eq!(out.code.map(|c| c.value), Some(value), "{} as {:?}", message, text);
        }
    }

    #[test]
    fn every_name_of_the_table_alone_yields_its_code(seed in any::<u64>()) {
        let mut rng = Mix(seed);
        for &(value, name) in NAMES.iter().filter(|(_, name)| !names_a_success(name)) {
            let text = dressed_at_random(name, &mut rng);
            let out = classify(&text);
            prop_assert!(out.class.is_some(), "{} as {:?}", name, text);
            prop_assert_eq!(out.code.map(|c| c.value), Some(value), "{} as {:?}", name, text);
        }
    }

    #[test]
    fn every_message_of_the_table_in_a_wrapper_chain_is_never_no_failure(seed in any::<u64>()) {
        let mut rng = Mix(seed);
        for &(message, _) in MESSAGES.iter() {
            let mut text: String = (0..rng.below(5)).map(|_| GO_WRAPPERS[rng.below(GO_WRAPPERS.len())]).collect();
            text.push_str(message);
            let text = dressed_at_random(&text, &mut rng);
            prop_assert!(classify(&text).class.is_some(), "{:?}", text);
        }
    }
}

/// Every row of the message table is reachable: by its message (when a text can show it whole, see [`MESSAGES`]) and
/// always by its name (see [`NAMES`]), so the walks above cover the whole table (the names of success codes are
/// walked as no failure's).
#[test]
fn the_walks_cover_every_row_of_the_table() {
    for entry in super::table::entries() {
        assert!(
            NAMES.iter().any(|(v, n)| *v == entry.value && *n == entry.name),
            "{} is not in NAMES",
            entry.name
        );
    }
    for &(_, name) in NAMES.iter().filter(|(_, name)| names_a_success(name)) {
        assert_eq!(classify(name).class, None, "{name}");
    }
}
