//! `NAME=VALUE` command-line pairs (`--set`, `--cell`).

use indexmap::IndexMap;

/// Parses `NAME=VALUE` pairs; prints a usage error naming `flag` and returns `Err` on the first malformed one.
pub fn parse(flag: &str, pairs: &[String]) -> Result<IndexMap<String, String>, ()> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => {
                eprintln!(
                    "error: {flag} `{pair}` is not NAME=VALUE\n  help: e.g. {flag} registry=registry.example.com"
                );
                Err(())
            }
        })
        .collect()
}
