//! Finds scenario files: the paths given, or every `*.yaml` under folders given (default `scenarios/`).

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::exit::Exit;

/// The scenario files named by `paths`, sorted, or exit 2 with a message when a path does not exist.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Exit> {
    let default = [PathBuf::from("scenarios")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(in_folder(path));
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errln!(
                "error: {}: no such file or folder\n  help: give scenario files or folders of them, e.g. `scenarios/`",
                path.display()
            );
            return Err(Exit::InvalidInput);
        }
    }
    if files.is_empty() {
        errln!(
            "error: no scenario files (*.yaml) found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(Exit::InvalidInput);
    }
    Ok(files)
}

/// Every `*.yaml` / `*.yml` file under `folder`, sorted.
pub fn in_folder(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = WalkDir::new(folder)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}
