//! `${name}` placeholders in scenario values, filled from parameters, the matrix cell and `--set`.

use indexmap::IndexMap;

/// The placeholder names in `text`, in order, or why they cannot be read.
pub fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed placeholder in `{text}`"))?;
        let name = &after[..end];
        if name.is_empty() {
            return Err(format!("empty placeholder `${{}}` in `{text}`"));
        }
        names.push(name);
        rest = &after[end + 1..];
    }
    Ok(names)
}

/// `text` with every `${name}` replaced by its value; names without a value are left as they are.
pub fn fill(text: &str, values: &IndexMap<String, String>) -> String {
    values.iter().fold(text.to_owned(), |acc, (name, value)| {
        acc.replace(&format!("${{{name}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_fills_placeholders() {
        let image = "${registry}/buildkitd:windows-${buildkit}-servercore";
        assert_eq!(placeholders(image).unwrap(), ["registry", "buildkit"]);
        let values = IndexMap::from([
            ("registry".to_owned(), "r.local".to_owned()),
            ("buildkit".to_owned(), "v0.28.0".to_owned()),
        ]);
        assert_eq!(fill(image, &values), "r.local/buildkitd:windows-v0.28.0-servercore");
        assert!(placeholders("${open").is_err());
        assert!(placeholders("a${}b").is_err());
        assert_eq!(placeholders("no placeholders").unwrap(), Vec::<&str>::new());
    }
}
