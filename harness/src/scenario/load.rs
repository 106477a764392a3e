//! Reads a YAML file within hard limits and deserialises it, turning every parser error into a located [`Problem`].

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, LazyLock, OnceLock};

use regex::Regex;
use serde::de::DeserializeOwned;

use crate::scenario::error::{Error, Problem, Source};
use crate::scenario::tree::{Kind, Node, Place};

/// Input limits: a hostile file is rejected fast, before it costs memory or time.
pub mod limits {
    /// Largest file read, in bytes.
    pub const MAX_BYTES: u64 = 1024 * 1024;
    /// Deepest nesting of mappings and sequences.
    pub const MAX_DEPTH: usize = 64;
    /// Most aliases (`*name`) in one file.
    pub const MAX_ALIASES: usize = 64;
    /// Most events an alias may replay in total: bounds alias-bomb expansion.
    pub const MAX_REPLAYED_EVENTS: usize = 10_000;
    /// Most YAML nodes in one file.
    pub const MAX_NODES: usize = 100_000;
    /// Most cases (matrix cells x variants) one scenario expands into.
    pub const MAX_CASES: usize = 256;
    /// Most cases x lanes one run plans.
    pub const MAX_PLANNED: usize = 4096;
}

/// A parsed YAML document: its text, and (built on first use, since only a problem needs it) the tree of located
/// nodes for pointing into it.
#[derive(Debug, Clone)]
pub struct Doc {
    pub source: Arc<Source>,
    tree: OnceLock<Option<Node>>,
}

impl Doc {
    /// A document for `source`, whose tree is parsed only when a problem must be located in it.
    pub fn new(source: Arc<Source>) -> Doc {
        Doc {
            source,
            tree: OnceLock::new(),
        }
    }

    /// The located tree, or `None` if the text is not well-formed YAML.
    pub fn tree(&self) -> Option<&Node> {
        self.tree
            .get_or_init(|| serde_saphyr::from_str_with_options(&self.source.text, options()).ok())
            .as_ref()
    }

    /// A problem at the deepest node of `path` that exists in this document.
    pub fn problem(&self, path: &[&str], message: impl Into<String>) -> Problem {
        let place = self.tree().map(|tree| tree.locate(path).place).unwrap_or_default();
        Problem::at(
            &self.source,
            place.line.max(1),
            place.column.max(1),
            place.len.max(1),
            message,
        )
    }
}

/// Reads `path` (at most [`limits::MAX_BYTES`]) and names it `name` in diagnostics.
pub fn read(path: &Path, name: &str) -> Result<Arc<Source>, Error> {
    let read_error = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    // A FIFO, device or socket would block or never end: only regular files are read.
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_file() {
        return Err(read_error(std::io::Error::other(
            "not a regular file (a folder, FIFO, device or socket); give a YAML file",
        )));
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(limits::MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let whole = |message: String, help: &str| Error::Invalid {
        file: name.to_owned(),
        problems: vec![
            Problem::at(
                &Source {
                    name: name.to_owned(),
                    text: String::new(),
                },
                1,
                1,
                0,
                message,
            )
            .help(help),
        ],
    };
    if bytes.len() as u64 > limits::MAX_BYTES {
        return Err(whole(
            format!("file is larger than {} KiB", limits::MAX_BYTES / 1024),
            "a scenario is a short YAML file; move large manifests or data under fixtures/",
        ));
    }
    if bytes.contains(&0) {
        return Err(whole(
            "file is binary (it contains NUL bytes), not YAML".to_owned(),
            "give the path of a YAML scenario file",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        whole(
            format!(
                "file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        )
    })?;
    Ok(Arc::new(Source {
        name: name.to_owned(),
        text,
    }))
}

/// Parses `source` into `T`, within the limits.
pub fn parse<T: DeserializeOwned>(source: &Arc<Source>) -> Result<(Doc, T), Error> {
    let fail = |problem: Problem| Error::Invalid {
        file: source.name.clone(),
        problems: vec![problem],
    };
    if source.text.trim().is_empty() {
        return Err(fail(Problem::at(source, 1, 1, 0, "file is empty").help(
            "a scenario starts with `apiVersion: harness/v1` and `kind: Scenario`; see docs/scenario.md",
        )));
    }
    let value: T =
        serde_saphyr::from_str_with_options(&source.text, options()).map_err(|e| fail(yaml_problem(source, &e)))?;
    Ok((Doc::new(source.clone()), value))
}

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits::MAX_DEPTH;
    budget.max_aliases = limits::MAX_ALIASES;
    budget.max_nodes = limits::MAX_NODES;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.alias_limits.max_total_replayed_events = limits::MAX_REPLAYED_EVENTS;
    options
}

/// The parser's message in the words of a scenario file, not of the Rust types behind it.
fn plain(message: &str) -> String {
    static RUST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"; use Option<[^>]*>$").unwrap());
    static DUPLICATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r", set DuplicateKeyPolicy in Options.*$").unwrap());
    static INTEGER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^invalid ([ui])(8|16|32|64)$").unwrap());
    if let Some(integer) = INTEGER.captures(message) {
        let bits: u32 = integer[2].parse().unwrap_or(64);
        return match &integer[1] {
            "u" => format!("expected a whole number from 0 to {}", (1u128 << bits) - 1),
            _ => format!(
                "expected a whole number from -{} to {}",
                1u128 << (bits - 1),
                (1u128 << (bits - 1)) - 1
            ),
        };
    }
    let message = RUST.replace(message, "");
    let message = DUPLICATE.replace(&message, "");
    message.replace(
        "cannot deserialize null into string",
        "this key needs a value (it is empty or null)",
    )
}

/// A parser error as a located problem, with a hint matched to what went wrong.
fn yaml_problem(source: &Source, error: &serde_saphyr::Error) -> Problem {
    static AT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r" at line \d+, column \d+$").unwrap());
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML");
    let message = plain(&AT.replace(first, ""));
    let (line, column, len) = error.location().map_or((1, 1, 1), |l| {
        (
            l.line().max(1),
            l.column().max(1),
            l.span().byte_len().unwrap_or(1).max(1) as usize,
        )
    });
    if let Some((value, expected)) = unknown_variant(&message) {
        let (message, help) = variant_in_words(&value, &expected);
        return Problem::at(source, line, column, len, message).help(help);
    }
    if let Some(key) = missing_key(&message) {
        return missing_key_problem(source, &key, line, column, len);
    }
    let help = if message.contains("unknown field") {
        "remove or correct this key; the scenario format is in docs/scenario.md and docs/scenario.schema.json"
    } else if message.contains("duplicate") {
        "each key may appear once in a mapping; remove one of them"
    } else if message.contains("tab") {
        "YAML indents with spaces only; replace the tab with spaces"
    } else if message.contains("budget") || message.contains("limit") || message.contains("alias") {
        "the file exceeds the harness's input limits (nesting, aliases, size); write it out plainly"
    } else if message.starts_with("expected a whole number") || message.starts_with("this key needs a value") {
        "give a value of the kind this key takes; see docs/scenario.md"
    } else if message.starts_with("expected mapping") || message.starts_with("invalid type") {
        "this key takes a different kind of value; see docs/scenario.md for what it expects"
    } else {
        "fix the YAML here; see docs/scenario.md for the format"
    };
    Problem::at(source, line, column, len, message).help(help)
}

/// The value and the accepted values of serde's "unknown variant `x`, expected one of a, b" (in any of its spellings).
fn unknown_variant(message: &str) -> Option<(String, Vec<String>)> {
    static VARIANT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^unknown variant `([^`]*)`, expected (?:one of )?(.*)$").unwrap());
    let found = VARIANT.captures(message)?;
    let expected = found[2]
        .split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|name| name.trim().trim_matches('`').to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    Some((found[1].to_owned(), expected))
}

/// "`x` is not a probe kind: write `bind:`, `layer:` or `exec:`": an unknown variant in the words of the format, naming what
/// the key is and every value it takes.
fn variant_in_words(value: &str, expected: &[String]) -> (String, String) {
    let has = |name: &str| expected.iter().any(|e| e == name);
    let either = |names: Vec<String>| match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    };
    let quoted = |suffix: &str| either(expected.iter().map(|e| format!("`{e}{suffix}`")).collect());
    let (what, write) = if has("bind") && has("layer") {
        ("a probe kind", quoted(":"))
    } else if has("kubeadm") {
        ("a distribution", quoted(""))
    } else if has("offline") && has("cluster") {
        ("a lane", quoted(":"))
    } else if has("containerd") {
        ("a component", quoted(":"))
    } else {
        ("a value this key takes", quoted(""))
    };
    (
        format!("`{value}` is not {what}: write {write}"),
        "the scenario format is in docs/scenario.md and docs/scenario.schema.json".to_owned(),
    )
}

/// The key of serde's "missing field `x`".
fn missing_key(message: &str) -> Option<String> {
    static MISSING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^missing field `([^`]*)`").unwrap());
    MISSING.captures(message).map(|found| found[1].to_owned())
}

/// A missing key, pointed at the mapping that lacks it: the parser reports it at one of the mapping's keys (or at its
/// end), which reads as if that neighbour were wrong. The mapping is found in the located tree as the one holding a
/// key at the parser's place, or starting there; the problem points at the key that names it.
fn missing_key_problem(source: &Source, key: &str, line: u64, column: u64, len: usize) -> Problem {
    let tree: Option<Node> = serde_saphyr::from_str_with_options(&source.text, options()).ok();
    let found = tree
        .as_ref()
        .and_then(|tree| lacking(tree, &mut Vec::new(), line, column, None));
    let example = example(key);
    match found {
        Some((path, place)) => {
            let name = if path.is_empty() {
                "the scenario".to_owned()
            } else {
                format!("`{}`", path.join("."))
            };
            Problem::at(
                source,
                place.line.max(1),
                place.column.max(1),
                place.len.max(1),
                format!("{name} has no `{key}`, which it needs"),
            )
            .label(format!("this mapping has no `{key}`"))
            .help(format!("add `{example}` to {name}; see docs/scenario.md"))
        }
        None => Problem::at(
            source,
            line,
            column,
            len,
            format!("a mapping here has no `{key}`, which it needs"),
        )
        .help(format!("add `{example}`; see docs/scenario.md")),
    }
}

/// The path and naming place of the mapping that holds a key at `line:column` or starts there.
fn lacking(
    node: &Node,
    path: &mut Vec<String>,
    line: u64,
    column: u64,
    named: Option<Place>,
) -> Option<(Vec<String>, Place)> {
    let at = |place: &Place| place.line == line && place.column == column;
    let name_place = named.unwrap_or(node.place);
    match &node.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                let Kind::Scalar(name) = &k.kind else { continue };
                path.push(name.clone());
                let inner = lacking(v, path, line, column, Some(k.place));
                path.pop();
                if inner.is_some() {
                    return inner;
                }
            }
            if at(&node.place) || entries.iter().any(|(k, _)| at(&k.place)) {
                return Some((path.clone(), name_place));
            }
            None
        }
        Kind::Seq(items) => items.iter().enumerate().find_map(|(i, item)| {
            path.push(i.to_string());
            let inner = lacking(item, path, line, column, Some(item.place));
            path.pop();
            inner
        }),
        Kind::Scalar(_) | Kind::Null => at(&node.place).then(|| (path.clone(), name_place)),
    }
}

/// What a missing key looks like written out.
fn example(key: &str) -> String {
    let value = match key {
        "apiVersion" => "harness/v1",
        "kind" => "Scenario",
        "metadata" => "{name: my-bug}",
        "name" => "a-name",
        "cluster" => "{distribution: k0s, nodeSelector: {kubernetes.io/os: windows}}",
        "distribution" => "k0s",
        "nodeSelector" => "{kubernetes.io/os: windows}",
        "workload" => "{daemonset: fixtures/daemonsets/..., image: ...}",
        "daemonset" => "fixtures/daemonsets/my-daemonset.yaml",
        "image" => "registry/image:tag",
        "port" => "1234",
        "variants" => "{reproduction: {}}",
        "context" => "fixtures/builds/my-context",
        "platform" => "windows/amd64",
        "timeout" => "10m",
        "src" | "dst" | "hostDir" => "'C:\\folder'",
        "logFile" => "'C:\\folder\\service.log'",
        "snapshot" => "latest",
        "when" => "{axis: \">=1.0\"}",
        "expect" => "{cluster: {reproduction: {rollout: ok}}}",
        "class" => "my-class",
        _ => "...",
    };
    format!("{key}: {value}")
}
