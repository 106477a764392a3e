//! Scenario files: the model, loading with locations, validation and matrix expansion.

pub mod classes;
pub mod error;
pub mod expect;
pub mod load;
pub mod manifest;
pub mod matrix;
pub mod model;
pub mod objects;
pub mod params;
pub mod tree;
pub mod validate;
pub mod version;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Error, Problem};
pub use model::Scenario;

use load::Doc;

/// A scenario read, parsed and validated, with the objects it deploys.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The repository the scenario's fixture paths are relative to.
    pub root: PathBuf,
    pub doc: Doc,
    pub scenario: Scenario,
    /// The workload's objects as written, before a case's namespace, names, image and labels are applied.
    pub workload: objects::Workload,
    /// The classes it declares (its own `classes:`, then its repository's `classes/` files), compiled.
    pub classes: crate::classify::DeclaredRules,
}

/// The repository a scenario belongs to: the nearest real ancestor of the scenario's real path that has a real
/// `fixtures/` folder (a `fixtures` that is a link is never taken for one).
pub fn repository_root(path: &Path) -> PathBuf {
    let real = path
        .canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned());
    let start = real.parent().unwrap_or(Path::new("."));
    start
        .ancestors()
        .find(|dir| dir.join("fixtures").symlink_metadata().is_ok_and(|m| m.is_dir()))
        .unwrap_or(start)
        .to_owned()
}

/// Reads, parses and validates the scenario at `path`; every problem found is returned at once.
pub fn load(path: &Path) -> Result<Arc<Loaded>, Error> {
    let source = load::read(path, &path.display().to_string())?;
    from_source(&source, path)
}

/// Loads every file, spread over the machine's cores; the results in the order of `files`. A scenario whose name an
/// earlier file already uses is an error too: case names start with it.
pub fn load_many(files: &[PathBuf]) -> Vec<Result<Arc<Loaded>, Error>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let results: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|file| load(file)).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("loading never panics"))
            .collect()
    });
    let mut first_file = std::collections::HashMap::new();
    results
        .into_iter()
        .map(|result| {
            let loaded = result?;
            let name = &loaded.scenario.metadata.name;
            match first_file.insert(name.clone(), loaded.path.clone()) {
                None => Ok(loaded),
                Some(first) => {
                    let problem = loaded
                        .doc
                        .problem(
                            &["metadata", "name"],
                            format!("scenario name `{name}` is already used by {}", first.display()),
                        )
                        .help("every scenario needs its own metadata.name: case names start with it");
                    Err(Error::Invalid {
                        file: loaded.doc.source.name.clone(),
                        problems: vec![problem],
                    })
                }
            }
        })
        .collect()
}

/// Parses and validates scenario text that was read from `path` (which locates the repository for fixture paths).
pub fn from_source(source: &std::sync::Arc<error::Source>, path: &Path) -> Result<Arc<Loaded>, Error> {
    let name = source.name.clone();
    let (doc, mut scenario) = load::parse::<Scenario>(source)?;
    let root = repository_root(path);
    let (classes, mut class_problems) = classes::declared(&doc, &scenario, &root);
    class_problems.append(&mut classes::resolve(&doc, &mut scenario, &classes));
    let mut problems = validate::scenario(&doc, &scenario, &root);
    problems.append(&mut class_problems);
    let workload = match objects::read(&doc, &scenario, &root) {
        Ok(workload) => {
            problems.append(&mut validate::against_workload(&doc, &scenario, &workload));
            Some(workload)
        }
        Err(mut found) => {
            problems.append(&mut found);
            None
        }
    };
    match workload {
        Some(workload) if problems.is_empty() => Ok(Arc::new(Loaded {
            path: path.to_owned(),
            root,
            doc,
            scenario,
            workload,
            classes,
        })),
        _ => Err(Error::Invalid { file: name, problems }),
    }
}

/// The JSON Schema of the scenario format, generated from the model (checked in as `docs/scenario.schema.json`).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seed() -> (PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    fn check(path: &Path, text: String) -> Result<Arc<Loaded>, Error> {
        let source = Arc::new(error::Source {
            name: "fuzz.yaml".to_owned(),
            text,
        });
        from_source(&source, path)
    }

    #[test]
    fn the_checked_in_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario.schema.json");
        let current = json_schema();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == current,
            "docs/scenario.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p harness --lib schema` and commit it"
        );
    }

    #[test]
    fn the_seed_scenario_loads() {
        let (path, text) = seed();
        let loaded = check(&path, text).unwrap();
        assert_eq!(loaded.scenario.metadata.name, "buildkit-6590");
        assert_eq!(loaded.workload.under_test().id(), "DaemonSet/buildkitd-windows");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, max_shrink_iters: 64, ..ProptestConfig::default() })]

        /// Arbitrary text never panics the loader; whatever it rejects, it rejects with located problems.
        #[test]
        fn arbitrary_text_is_rejected_with_a_place(text in "\\PC{0,400}") {
            let (path, _) = seed();
            if let Err(Error::Invalid { problems, .. }) = check(&path, text) {
                prop_assert!(!problems.is_empty());
                prop_assert!(problems.iter().all(|p| p.line >= 1 && p.column >= 1));
            }
        }

        /// The seed with one line cut, duplicated or altered never panics, and every problem names a line of the file.
        #[test]
        fn a_mutated_seed_never_panics(line in 0usize..90, op in 0u8..4, junk in "[a-z:{}\\[\\]&*!|>\t -]{0,12}") {
            let (path, text) = seed();
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let at = line % lines.len();
            match op {
                0 => { lines.remove(at); }
                1 => { let copy = lines[at].clone(); lines.insert(at, copy); }
                2 => lines[at].push_str(&junk),
                _ => lines[at] = junk.clone(),
            }
            let count = lines.len() as u64 + 1;
            if let Err(Error::Invalid { problems, .. }) = check(&path, lines.join("\n")) {
                prop_assert!(problems.iter().all(|p| p.line >= 1 && p.line <= count.max(40)));
            }
        }
    }
}
