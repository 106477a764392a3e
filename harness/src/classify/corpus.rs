//! The error corpus (`fixtures/corpus/errors/`): every real sample gets its expected class; its facts are snapshotted.

use std::path::PathBuf;

use super::{Class, classify, classify_reader};

/// One row of `EXPECTED.tsv`.
pub struct Sample {
    pub file: String,
    pub expected: Option<Class>,
    pub source: String,
    pub text: String,
}

pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/corpus/errors")
}

/// Every sample of the corpus, in `EXPECTED.tsv` order.
pub fn samples() -> Vec<Sample> {
    let dir = corpus_dir();
    let tsv = std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    tsv.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "EXPECTED.tsv row needs file, class, source: {line}");
            let expected = match cols[1] {
                "none" => None,
                name => Some(Class::from_name(name).unwrap_or_else(|| panic!("unknown class {name}"))),
            };
            let text = std::fs::read_to_string(dir.join(cols[0])).unwrap_or_else(|e| panic!("{}: {e}", cols[0]));
            Sample {
                file: cols[0].to_string(),
                expected,
                source: cols[2].to_string(),
                text,
            }
        })
        .collect()
}

#[test]
fn every_sample_gets_its_expected_class() {
    let mut wrong = Vec::new();
    for sample in samples() {
        let out = classify(&sample.text);
        if out.class != sample.expected {
            wrong.push(format!(
                "{}: expected {:?}, got {:?} ({:?})",
                sample.file, sample.expected, out.class, out.rule
            ));
        }
        if sample.expected == Some(Class::Unknown) {
            assert!(
                out.first_error.is_some(),
                "{}: unknown keeps its first error line",
                sample.file
            );
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn every_sample_has_a_source_and_every_file_a_row() {
    let listed: Vec<String> = samples()
        .into_iter()
        .inspect(|s| assert!(s.source.starts_with("https://"), "{} needs a source URL", s.file))
        .map(|s| s.file)
        .collect();
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") {
            assert!(listed.contains(&name), "{name} has no row in EXPECTED.tsv");
        }
    }
}

#[test]
fn streaming_and_whole_text_agree_on_the_corpus() {
    for sample in samples() {
        assert_eq!(
            classify_reader(sample.text.as_bytes()).unwrap(),
            classify(&sample.text),
            "{}",
            sample.file
        );
    }
}

#[test]
fn snapshots_of_the_facts() {
    for sample in samples() {
        let out = classify(&sample.text);
        let name = sample.file.trim_end_matches(".txt").to_string();
        insta::with_settings!({ description => sample.source.clone(), omit_expression => true }, {
            insta::assert_yaml_snapshot!(name, out);
        });
    }
}
