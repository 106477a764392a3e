//! Version requirements such as `>=1.7` held against versions as components print them (`v1.34.2+k0s`, `20348.4773`).

use std::cmp::Ordering;
use std::fmt;

/// A comparison with a dotted version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    op: Op,
    version: Vec<u64>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

/// The numeric parts of a version: `v1.34.2+k0s` -> [1, 34, 2]; `containerd://1.7.29` -> [1, 7, 29].
pub fn numbers(version: &str) -> Option<Vec<u64>> {
    let version = version.rsplit("://").next()?.trim_start_matches('v');
    let core = version.split(['+', '-', ' ']).next()?;
    core.split('.').map(|part| part.parse().ok()).collect()
}

/// Whether a matrix cell's version (`1.7.3`, `v0.28.0`, `1.7`) names the release `observed` (`containerd://1.7.29`,
/// `v1.34.2+k0s`): the cell's parts must equal the observed ones, which are read as `numbers` reads them; parts the
/// cell leaves out match any (`1.7` is every 1.7.x), parts the observed version leaves out are zero.
pub fn names_release(cell: &str, observed: &str) -> bool {
    let (Some(cell), Some(found)) = (numbers(cell), numbers(observed)) else {
        return false;
    };
    cell.iter()
        .enumerate()
        .all(|(i, part)| found.get(i).copied().unwrap_or(0) == *part)
}

impl Requirement {
    /// Parses `>=1.7`, `>1.6`, `<=2`, `<2.0`, `=1.7.29` (a bare version means `=`).
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let trimmed = text.trim();
        let (op, rest) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .into_iter()
        .find_map(|(prefix, op)| trimmed.strip_prefix(prefix).map(|rest| (op, rest)))
        .unwrap_or((Op::Eq, trimmed));
        let version = numbers(rest.trim()).ok_or_else(|| format!("`{text}` is not a version requirement"))?;
        Ok(Requirement {
            op,
            version,
            text: trimmed.to_owned(),
        })
    }

    /// Whether `version` meets the requirement; parts left out compare as zero.
    pub fn matches(&self, version: &str) -> bool {
        let Some(found) = numbers(version) else {
            return false;
        };
        let len = found.len().max(self.version.len());
        let pad = |v: &[u64]| (0..len).map(|i| v.get(i).copied().unwrap_or(0)).collect::<Vec<_>>();
        let ordering = pad(&found).cmp(&pad(&self.version));
        match self.op {
            Op::Ge => ordering != Ordering::Less,
            Op::Gt => ordering == Ordering::Greater,
            Op::Le => ordering != Ordering::Greater,
            Op::Lt => ordering == Ordering::Less,
            Op::Eq => ordering == Ordering::Equal,
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_versions_as_components_print_them() {
        let at_least_17 = Requirement::parse(">=1.7").unwrap();
        assert!(at_least_17.matches("1.7.29"));
        assert!(at_least_17.matches("containerd://2.3.4"));
        assert!(!at_least_17.matches("1.6.36"));
        assert!(Requirement::parse("<1.35").unwrap().matches("v1.34.2+k0s"));
        assert!(Requirement::parse("20348.4773").unwrap().matches("20348.4773"));
        assert!(!Requirement::parse(">20348.4773").unwrap().matches("20348.4773"));
        assert!(Requirement::parse(">=banana").is_err());
        assert!(!at_least_17.matches("unknown"));
    }

    #[test]
    fn a_cell_names_a_release_as_components_print_it() {
        assert!(names_release("1.7.29", "containerd://1.7.29"));
        assert!(!names_release("1.7.4", "1.7.29"));
        assert!(!names_release("1.7.3", "1.7.29"));
        assert!(names_release("1.7", "1.7.29"));
        assert!(names_release("v1.34.2", "v1.34.2+k0s"));
        assert!(names_release("1.34.2", "v1.34.2+k0s"));
        assert!(names_release("1.7.0", "1.7"));
        assert!(names_release("20348.4773", "20348.4773"));
        assert!(!names_release("20348", "17763.1"));
        assert!(!names_release("1.7.29", "unknown"));
        assert!(!names_release("latest", "1.7.29"));
    }
}
