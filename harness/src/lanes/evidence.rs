//! Where a case keeps the files its steps produce (build logs, what the cluster showed of a failure): one folder per
//! lane and case under the run's output folder, named in outcomes relative to it.

use std::path::{Path, PathBuf};

use crate::scenario::matrix::Case;

/// The evidence folder of one case.
#[derive(Debug, Clone)]
pub struct Folder {
    /// Where files are written.
    pub path: PathBuf,
    /// The same folder relative to the output folder, as outcomes and report.html name it.
    pub relative: String,
}

impl Folder {
    /// The folder of `case` under `out` (`evidence/<lane>/<case name with `/` as `_`>`), created.
    pub fn of(out: &Path, case: &Case) -> std::io::Result<Folder> {
        let name: String = case
            .name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-.=_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let relative = format!("evidence/{}/{name}", case.lane);
        let path = out.join(&relative);
        std::fs::create_dir_all(&path)?;
        Ok(Folder { path, relative })
    }

    /// Writes `text` (secrets redacted) to `file` in the folder; its name relative to the output folder.
    pub fn write(&self, file: &str, text: &str) -> std::io::Result<String> {
        std::fs::write(self.path.join(file), crate::redact::secrets(text).as_bytes())?;
        Ok(self.name(file))
    }

    /// `file`'s name relative to the output folder.
    pub fn name(&self, file: &str) -> String {
        format!("{}/{file}", self.relative)
    }
}
