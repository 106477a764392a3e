//! `NAME=VALUE` command-line pairs (`--set`, `--cell`).

use indexmap::IndexMap;

/// Parses `NAME=VALUE` pairs; prints a usage error naming `flag` and returns `Err` on the first malformed one.
pub fn parse(flag: &str, pairs: &[String]) -> Result<IndexMap<String, String>, ()> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => {
                errln!("error: {flag} `{pair}` is not NAME=VALUE\n  help: e.g. {flag} registry=registry.example.com");
                Err(())
            }
        })
        .collect()
}

/// `--set` may name only a declared parameter of some scenario, never a matrix axis (whose value names the case), and
/// its value must be one line of printable text.
pub fn check_parameters(
    overrides: &IndexMap<String, String>,
    scenarios: &[std::sync::Arc<crate::scenario::Loaded>],
) -> Result<(), String> {
    for (name, value) in overrides {
        if scenarios.iter().any(|s| s.scenario.matrix.contains_key(name)) {
            return Err(format!(
                "--set {name}: `{name}` is a matrix axis; its values name the cases\n  help: change the matrix in the scenario instead"
            ));
        }
        if !scenarios.iter().any(|s| s.scenario.parameters.contains_key(name)) {
            let mut known: Vec<&str> = scenarios
                .iter()
                .flat_map(|s| s.scenario.parameters.keys().map(String::as_str))
                .collect();
            known.sort_unstable();
            known.dedup();
            return Err(format!(
                "--set {name}: no scenario declares a parameter `{name}`\n  help: parameters: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(format!(
                "--set {name}: the value is empty or holds a control character\n  help: give one line of text"
            ));
        }
    }
    Ok(())
}
