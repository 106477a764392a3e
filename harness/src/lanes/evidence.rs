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
    /// The folder of `case` under `out` (`evidence/<lane>/<case name with `/` as `_`>`), made when a file is written.
    pub fn of(out: &Path, case: &Case) -> Folder {
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
        Folder { path, relative }
    }

    /// Where `file` goes in the folder (a relative path, perhaps with subfolders), its folder made.
    pub fn path_for(&self, file: &str) -> std::io::Result<PathBuf> {
        let path = self.path.join(file);
        std::fs::create_dir_all(path.parent().unwrap_or(&self.path))?;
        Ok(path)
    }

    /// Writes `text` (secrets redacted) to `file` in the folder; its name relative to the output folder.
    pub fn write(&self, file: &str, text: &str) -> std::io::Result<String> {
        std::fs::write(self.path_for(file)?, crate::redact::secrets(text).as_bytes())?;
        Ok(self.name(file))
    }

    /// `file`'s name relative to the output folder.
    pub fn name(&self, file: &str) -> String {
        format!("{}/{file}", self.relative)
    }
}
