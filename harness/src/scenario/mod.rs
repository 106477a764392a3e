//! Scenario files: the model, loading with locations, validation and matrix expansion.

pub mod error;
pub mod expect;
pub mod load;
pub mod manifest;
pub mod matrix;
pub mod model;
pub mod params;
pub mod tree;
pub mod validate;
pub mod version;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;

pub use error::{Error, Problem};
pub use model::Scenario;

use load::Doc;
use model::DaemonSetSource;

/// A scenario read, parsed and validated, with the DaemonSet it deploys.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The repository the scenario's fixture paths are relative to.
    pub root: PathBuf,
    pub doc: Doc,
    pub scenario: Scenario,
    /// The DaemonSet under test, before the image and labels of a case are applied.
    pub daemonset: DaemonSet,
}

/// The repository a scenario belongs to: the nearest folder above it that has a `fixtures/` folder.
pub fn repository_root(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let start = absolute.parent().unwrap_or(Path::new("."));
    start
        .ancestors()
        .find(|dir| dir.join("fixtures").is_dir())
        .unwrap_or(start)
        .to_owned()
}

/// Reads, parses and validates the scenario at `path`; every problem found is returned at once.
pub fn load(path: &Path) -> Result<Arc<Loaded>, Error> {
    let name = path.display().to_string();
    let source = load::read(path, &name)?;
    let (doc, scenario) = load::parse::<Scenario>(&source)?;
    let root = repository_root(path);
    let mut problems = validate::scenario(&doc, &scenario, &root);
    let daemonset = match daemonset(&doc, &scenario, &root) {
        Ok(daemonset) => Some(daemonset),
        Err(mut found) => {
            problems.append(&mut found);
            None
        }
    };
    match daemonset {
        Some(daemonset) if problems.is_empty() => Ok(Arc::new(Loaded {
            path: path.to_owned(),
            root,
            doc,
            scenario,
            daemonset,
        })),
        _ => Err(Error::Invalid { file: name, problems }),
    }
}

/// The DaemonSet of a scenario, read from its fixture file or inline, and checked.
fn daemonset(doc: &Doc, scenario: &Scenario, root: &Path) -> Result<DaemonSet, Vec<Problem>> {
    let at: &[&str] = &["workload", "daemonset"];
    let (manifest_doc, value, manifest_at): (Doc, serde_json::Value, &[&str]) = match &scenario.workload.daemonset {
        DaemonSetSource::Inline(value) => (doc.clone(), value.clone(), at),
        DaemonSetSource::File(file) => {
            let mut checks = validate::Checks {
                doc,
                problems: Vec::new(),
            };
            let Some(real) = validate::fixture_path(&mut checks, at, root, file) else {
                return Err(checks.problems);
            };
            let source = load::read(&real, file).map_err(|e| vec![read_problem(doc, at, e)])?;
            let (manifest_doc, value) = load::parse::<serde_json::Value>(&source).map_err(|e| match e {
                Error::Invalid { problems, .. } => problems,
                other => vec![read_problem(doc, at, other)],
            })?;
            (manifest_doc, value, &[])
        }
    };
    let kind = |field: &str| value.get(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    if kind("kind") != "DaemonSet" || kind("apiVersion") != "apps/v1" {
        return Err(vec![
            manifest_doc
                .problem(
                    &[manifest_at, &["kind"]].concat(),
                    format!(
                        "the workload must be an apps/v1 DaemonSet, not {} {}",
                        kind("apiVersion"),
                        kind("kind")
                    ),
                )
                .help("give `apiVersion: apps/v1` and `kind: DaemonSet`"),
        ]);
    }
    let daemonset: DaemonSet = manifest::typed(&manifest_doc, manifest_at, &value)?;
    let problems = validate::daemonset(&manifest_doc, manifest_at, &daemonset, scenario, doc);
    if problems.is_empty() {
        Ok(daemonset)
    } else {
        Err(problems)
    }
}

fn read_problem(doc: &Doc, at: &[&str], error: Error) -> Problem {
    doc.problem(at, error.to_string())
        .help("give a readable YAML file under fixtures/")
}
