//! Reads a Kubernetes manifest into its typed form, pointing at wrong types and at fields Kubernetes does not know.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::scenario::error::Problem;
use crate::scenario::load::Doc;

/// `value` (written at `at` in `doc`) as a `T`, or the located problems: wrong types, and unknown fields (which the
/// API server would reject under strict field validation, and which usually are misspellings).
pub fn typed<T: DeserializeOwned + serde::Serialize>(doc: &Doc, at: &[&str], value: &Value) -> Result<T, Vec<Problem>> {
    let located = |path: &[String], message: String, help: &str| {
        let full: Vec<&str> = at.iter().copied().chain(path.iter().map(String::as_str)).collect();
        doc.problem(&full, message).help(help.to_owned())
    };
    let typed: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path: Vec<String> = e
            .path()
            .iter()
            .map(|s| s.to_string().trim_matches(['[', ']']).to_owned())
            .collect();
        let path: Vec<String> = path.into_iter().filter(|s| s != "?").collect();
        vec![located(
            &path,
            format!("invalid manifest: {}", e.inner()),
            "fix the field's type; see the Kubernetes API reference for this kind",
        )]
    })?;
    let known = serde_json::to_value(&typed).unwrap_or(Value::Null);
    let mut unknown = Vec::new();
    unknown_fields(value, &known, &mut Vec::new(), &mut unknown);
    if unknown.is_empty() {
        Ok(typed)
    } else {
        Err(unknown
            .iter()
            .map(|path| {
                let key = path.last().cloned().unwrap_or_default();
                let mut key_path = path.clone();
                if let Some(last) = key_path.last_mut() {
                    *last = format!("@{last}");
                }
                located(
                    &key_path,
                    format!("unknown field `{key}` in the manifest"),
                    "Kubernetes does not know this field: check its spelling and where it is nested",
                )
            })
            .collect())
    }
}

/// Collects the paths of keys in `input` that did not survive the typed round trip into `known`.
fn unknown_fields(input: &Value, known: &Value, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => {
            for (key, value) in input {
                path.push(key.clone());
                match known.get(key) {
                    Some(known) => unknown_fields(value, known, path, found),
                    None if !value.is_null() => found.push(path.clone()),
                    None => {}
                }
                path.pop();
            }
        }
        (Value::Array(input), Value::Array(known)) => {
            for (i, (value, known)) in input.iter().zip(known).enumerate() {
                path.push(i.to_string());
                unknown_fields(value, known, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}
