//! A variant's patches on the workload's objects: JSON patches (RFC 6902) and merge patches whose lists of named
//! mappings merge by name, as `kubectl patch --type strategic` does for containers, env, volumes and volume mounts.

use serde_json::Value;

use crate::scenario::model::Patch;

/// `object` with `patch` applied, or what went wrong in the words of the patch.
pub fn apply(object: &Value, patch: &Patch) -> Result<Value, String> {
    let mut patched = object.clone();
    if let Some(operations) = &patch.json {
        let operations: json_patch::Patch =
            serde_json::from_value(operations.clone()).map_err(|e| format!("not a JSON patch: {e}"))?;
        json_patch::patch(&mut patched, &operations).map_err(|e| e.to_string())?;
    }
    if let Some(merge) = &patch.merge {
        merge_into(&mut patched, merge);
    }
    Ok(patched)
}

/// Merges `patch` into `target`: mappings key by key (`null` removes), lists of named mappings item by item by name
/// (a new name is appended), anything else replaced.
fn merge_into(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_into(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (Value::Array(target), Value::Array(patch)) if named(target) && named(patch) => {
            for item in patch {
                let name = &item["name"];
                match target.iter_mut().find(|t| &t["name"] == name) {
                    Some(existing) => merge_into(existing, item),
                    None => target.push(item.clone()),
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Whether every item is a mapping with a string `name`.
fn named(items: &[Value]) -> bool {
    items.iter().all(|item| item.get("name").is_some_and(Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(json: Option<Value>, merge: Option<Value>) -> Patch {
        Patch {
            target: None,
            json,
            merge,
        }
    }

    #[test]
    fn named_lists_merge_by_name_and_other_values_replace() {
        let object = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "C:\\etc"}]},
            {"name": "b", "image": "y"}
        ], "hostNetwork": true, "args": ["1", "2"]}});
        let merge = json!({"spec": {"containers": [
            {"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/mounts/etc"}]},
            {"name": "c", "image": "z"}
        ], "hostNetwork": null, "args": ["3"]}});
        let merged = apply(&object, &patch(None, Some(merge))).unwrap();
        assert_eq!(
            merged,
            json!({"spec": {"containers": [
                {"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/mounts/etc"}]},
                {"name": "b", "image": "y"},
                {"name": "c", "image": "z"}
            ], "args": ["3"]}})
        );
    }

    #[test]
    fn a_json_patch_that_does_not_apply_says_where() {
        let object = json!({"spec": {}});
        let ok = apply(
            &object,
            &patch(Some(json!([{"op": "add", "path": "/spec/x", "value": 1}])), None),
        );
        assert_eq!(ok.unwrap(), json!({"spec": {"x": 1}}));
        let missing = apply(
            &object,
            &patch(Some(json!([{"op": "replace", "path": "/spec/y/z", "value": 1}])), None),
        );
        assert!(missing.unwrap_err().contains("/spec/y/z"));
        assert!(apply(&object, &patch(Some(json!({"op": "add"})), None)).is_err());
    }
}
