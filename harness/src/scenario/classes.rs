//! Declared classes: the `classes:` of a scenario and the shared files under its repository's `classes/` folder,
//! checked with located problems and compiled into the classifier's declared rules (see
//! [`crate::classify::declared`]).
//!
//! A shared file holds only `classes:`, a list of rules like a scenario's. Every rule names its class; a class may
//! have several rules, all of one kind (`infrastructure`). The scenario's own rules are tried first, then the shared
//! files' in the order of their names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classify::code::Code;
use crate::classify::declared::{DeclaredRule, DeclaredRules, is_class_name};
use crate::classify::{Class, Stage};
use crate::scenario::error::{Error, Problem};
use crate::scenario::expect::{Expectation, Expectations, Expected};
use crate::scenario::load::{self, Doc};
use crate::scenario::model::{ClassRule, CodeSpec, Scenario};

/// A shared file of declared classes (`classes/*.yaml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesFile {
    pub classes: Vec<ClassRule>,
}

/// Words an expectation already means: never a class name.
const RESERVED: &[&str] = &["ok", "observe", "none"];

/// The most a declared expression may compile to (the classifier runs it on every unrecognised failure).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The shared class files of the repository at `root`: `classes/*.yaml` and `classes/*.yml`, by name.
pub fn shared_files(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join("classes")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// Reads and parses a shared class file, named `name` in diagnostics.
pub fn read_file(path: &Path, name: &str) -> Result<(Doc, ClassesFile), Error> {
    let source = load::read(path, name)?;
    load::parse::<ClassesFile>(&source)
}

/// The declared rules a scenario sees: its own `classes:`, then its repository's shared files; with every problem in
/// any of them.
pub fn declared(doc: &Doc, scenario: &Scenario, root: &Path) -> (DeclaredRules, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut shared = Vec::new();
    for path in shared_files(root) {
        let name = match path.strip_prefix(root) {
            Ok(relative) => relative.display().to_string(),
            Err(_) => path.display().to_string(),
        };
        match read_file(&path, &name) {
            Ok(parsed) => shared.push(parsed),
            Err(Error::Invalid {
                problems: mut found, ..
            }) => problems.append(&mut found),
            Err(read) => problems.push(
                doc.problem(&["classes"], read.to_string())
                    .help("make the shared class files under classes/ readable YAML files"),
            ),
        }
    }
    let mut sources: Vec<(&Doc, &[ClassRule])> = vec![(doc, &scenario.classes)];
    sources.extend(shared.iter().map(|(d, f)| (d, f.classes.as_slice())));
    match compile(&sources) {
        Ok(rules) => (rules, problems),
        Err(mut found) => {
            problems.append(&mut found);
            (DeclaredRules::default(), problems)
        }
    }
}

/// Checks and compiles the rules of several files together (a class declared differently in two of them is a
/// problem too); every problem is located in the file that holds it.
pub fn compile(sources: &[(&Doc, &[ClassRule])]) -> Result<DeclaredRules, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut compiled = Vec::new();
    // name -> (infrastructure, where first declared)
    let mut kinds: Vec<(String, bool, String)> = Vec::new();
    for (doc, rules) in sources {
        for (i, rule) in rules.iter().enumerate() {
            let index = i.to_string();
            let at = |field: &str| ["classes", index.as_str(), field].map(str::to_owned);
            let mut problem = |path: [String; 3], message: String, label: &str, help: String| {
                let path: Vec<&str> = path.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
                problems.push(doc.problem(&path, message).label(label).help(help));
            };
            let mut ok = true;
            let name = rule.class.as_str();
            if !is_class_name(name) {
                ok = false;
                problem(
                    at("class"),
                    format!("`{name}` is not a class name"),
                    "not a class name",
                    "use lower-case letters, digits and dashes (at most 63), starting and ending with a letter or digit"
                        .to_owned(),
                );
            } else if Class::from_name(name).is_some() || RESERVED.contains(&name) {
                ok = false;
                problem(
                    at("class"),
                    format!("`{name}` is a built-in class"),
                    "shadows a built-in class",
                    format!(
                        "a declared class adds to the built-in ones and never replaces one: give it a name of its own, \
                         e.g. `{name}-here`"
                    ),
                );
            }
            if rule.code.is_none() && rule.stage.is_none() && rule.message.is_none() {
                ok = false;
                problem(
                    at(""),
                    format!("the rule for `{name}` has no condition"),
                    "no condition",
                    "give at least one of `code`, `stage` or `message`: a rule without one would claim every failure \
                     the built-in rules do not recognise"
                        .to_owned(),
                );
            }
            let code = rule.code.as_ref().and_then(|spec| {
                let parsed = parse_code(spec);
                if parsed.is_none() {
                    ok = false;
                    problem(
                        at("code"),
                        format!("`{}` is not a Windows code", spec_text(spec)),
                        "not a code",
                        "give a hex value (`0x8007010b`), a decimal one (`267`) or a constant name the classifier \
                         knows (`ERROR_DIRECTORY`)"
                            .to_owned(),
                    );
                }
                parsed
            });
            let stage = rule.stage.as_deref().and_then(|text| {
                let parsed = Stage::from_name(text);
                if parsed.is_none() {
                    ok = false;
                    problem(
                        at("stage"),
                        format!("`{text}` is not a stage"),
                        "unknown stage",
                        format!("stages are: {}", Stage::names()),
                    );
                }
                parsed
            });
            let message = rule.message.as_deref().and_then(|text| {
                match regex::RegexBuilder::new(text).size_limit(REGEX_SIZE_LIMIT).build() {
                    Ok(re) => Some(re),
                    Err(e) => {
                        ok = false;
                        problem(
                            at("message"),
                            format!("`{text}` is not a regular expression: {}", regex_error(&e)),
                            "bad regular expression",
                            "write a Rust `regex` expression (https://docs.rs/regex/latest/regex/#syntax); `(?i)` \
                             ignores case, `\\.` matches a dot"
                                .to_owned(),
                        );
                        None
                    }
                }
            });
            if is_class_name(name) {
                let here = format!("{}:{}", doc.source.name, doc.problem(&["classes", &index], "").line);
                match kinds.iter().find(|(n, _, _)| n == name) {
                    Some((_, infrastructure, first)) if *infrastructure != rule.infrastructure => {
                        ok = false;
                        problem(
                            at("infrastructure"),
                            format!(
                                "`{name}` is declared differently: infrastructure {} here, {} at {first}",
                                rule.infrastructure, infrastructure
                            ),
                            "declared differently",
                            "give every rule of a class the same `infrastructure`, or name the classes differently"
                                .to_owned(),
                        );
                    }
                    Some(_) => {}
                    None => kinds.push((name.to_owned(), rule.infrastructure, here)),
                }
            }
            if ok {
                let class = Class::declared(name, rule.infrastructure);
                compiled.push(DeclaredRule::new(class, code, stage, message));
            }
        }
    }
    if problems.is_empty() {
        Ok(DeclaredRules::new(compiled))
    } else {
        Err(problems)
    }
}

/// A code as written: a number (a negative one as the 32 bits of an HRESULT), hex, decimal or a constant name.
pub fn parse_code(spec: &CodeSpec) -> Option<u32> {
    match spec {
        CodeSpec::Number(n) => number(*n),
        CodeSpec::Text(text) => {
            let text = text.trim();
            if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                return u32::from_str_radix(hex, 16).ok();
            }
            if let Ok(n) = text.parse::<i64>() {
                return number(n);
            }
            Code::from_name(&text.to_ascii_uppercase()).map(|c| c.value)
        }
    }
}

fn number(n: i64) -> Option<u32> {
    if (0..=u32::MAX as i64).contains(&n) {
        Some(n as u32)
    } else if (i32::MIN as i64..0).contains(&n) {
        Some(n as i32 as u32)
    } else {
        None
    }
}

fn spec_text(spec: &CodeSpec) -> String {
    match spec {
        CodeSpec::Number(n) => n.to_string(),
        CodeSpec::Text(text) => text.clone(),
    }
}

/// The regex crate's message without its multi-line drawing: `unclosed group`.
fn regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or("invalid"))
        .to_owned()
}

/// Gives every expectation that names a declared class that class (with its kind), and finds those that name no class
/// at all: an expectation is read before the declarations are (see [`Expected::parse`]).
pub fn resolve(doc: &Doc, scenario: &mut Scenario, declared: &DeclaredRules) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut expect = std::mem::take(&mut scenario.expect);
    resolve_in(doc, &mut expect, &["expect".to_owned()], declared, &mut problems);
    scenario.expect = expect;
    for (i, matrix_override) in scenario.overrides.iter_mut().enumerate() {
        let prefix = ["overrides".to_owned(), i.to_string(), "expect".to_owned()];
        resolve_in(doc, &mut matrix_override.expect, &prefix, declared, &mut problems);
    }
    for (name, build) in scenario.builds.iter_mut() {
        if let Some(expected) = build.twin.as_mut().and_then(|twin| twin.expect.as_mut()) {
            let path = ["builds", name.as_str(), "twin", "expect"].map(str::to_owned);
            resolve_one(doc, expected, &path, declared, &mut problems);
        }
    }
    problems
}

fn resolve_in(
    doc: &Doc,
    expect: &mut Expectations,
    prefix: &[String],
    declared: &DeclaredRules,
    problems: &mut Vec<Problem>,
) {
    for (lane, variants) in expect.iter_mut() {
        for (variant, steps) in variants.iter_mut() {
            for (step, expectation) in steps.iter_mut() {
                let mut path: Vec<String> = prefix.to_vec();
                path.extend([lane.as_str().to_owned(), variant.clone(), step.clone()]);
                match expectation {
                    Expectation::Whole(expected) => resolve_one(doc, expected, &path, declared, problems),
                    Expectation::Rate(rate) => resolve_one(doc, &mut rate.of, &path, declared, problems),
                    Expectation::Stages(stages) => {
                        for (stage, expected) in stages.iter_mut() {
                            let mut path = path.clone();
                            path.push(stage.clone());
                            resolve_one(doc, expected, &path, declared, problems);
                        }
                    }
                }
            }
        }
    }
}

fn resolve_one(
    doc: &Doc,
    expected: &mut Expected,
    path: &[String],
    declared: &DeclaredRules,
    problems: &mut Vec<Problem>,
) {
    let Expected::Fails(class) = *expected else {
        return;
    };
    if !class.is_declared() {
        return;
    }
    match declared.class(class.as_str()) {
        Some(found) => *expected = Expected::Fails(found),
        None => {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let built_in: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
            let own: Vec<&str> = declared.classes().iter().map(|c| c.as_str()).collect();
            let own = if own.is_empty() {
                "none declared".to_owned()
            } else {
                own.join(", ")
            };
            problems.push(
                doc.problem(
                    &path,
                    format!(
                        "`{}` is not an expectation: no built-in or declared class has this name",
                        class.as_str()
                    ),
                )
                .label("unknown class")
                .help(format!(
                    "write `ok`, `observe`, a built-in class ({}) or a declared one ({own})",
                    built_in.join(", ")
                )),
            );
        }
    }
}

/// The declared rules `harness classify --classes FILE` applies: a shared class file's, or a scenario's (its own and
/// its repository's shared ones, the whole scenario checked).
pub fn for_classify(path: &Path) -> Result<DeclaredRules, Error> {
    let name = path.display().to_string();
    let source = load::read(path, &name)?;
    let (_, value) = load::parse::<serde_json::Value>(&source)?;
    if value.get("kind").is_some() {
        return crate::scenario::load(path).map(|loaded| loaded.classes.clone());
    }
    let (doc, file) = load::parse::<ClassesFile>(&source)?;
    compile(&[(&doc, &file.classes)]).map_err(|problems| Error::Invalid { file: name, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_page_lists_every_stage_a_rule_may_name() {
        let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario.md")).unwrap();
        let section = &page[page.find("## `classes`").expect("a classes section")..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
        for stage in Stage::ALL {
            assert!(
                section.contains(&format!("`{stage}`")),
                "docs/scenario.md does not list `{stage}`"
            );
        }
    }

    #[test]
    fn codes_are_hex_decimal_negative_or_names() {
        let text = |t: &str| parse_code(&CodeSpec::Text(t.to_owned()));
        assert_eq!(text("0x8007010b"), Some(0x8007_010b));
        assert_eq!(text("267"), Some(267));
        assert_eq!(text("ERROR_DIRECTORY"), Some(267));
        assert_eq!(text("error_directory"), Some(267));
        assert_eq!(text("-2147024629"), Some(0x8007_010b));
        assert_eq!(parse_code(&CodeSpec::Number(267)), Some(267));
        assert_eq!(parse_code(&CodeSpec::Number(-2_147_024_629)), Some(0x8007_010b));
        assert_eq!(text("NO_SUCH_CODE"), None);
        assert_eq!(text("0xZZ"), None);
        assert_eq!(parse_code(&CodeSpec::Number(1 << 40)), None);
    }
}
