//! The scenario's own components (`cluster.components`), observed: a field of the node's nodeInfo, the tag of an
//! image as deployed, or the first version a command in the container under test prints; each with where it came
//! from.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::Node;
use regex::Regex;

use crate::lanes::cluster::exec::{Workload, exec};
use crate::render::Manifests;
use crate::scenario::matrix::Case;

/// A component's observed version and where it was read.
pub type Found = BTreeMap<String, (String, String)>;

/// The components read from `node`'s nodeInfo, and from the images of `manifests` (both known before anything runs).
pub fn before_rollout(case: &Case, node: &Node, manifests: Option<&Manifests>) -> Found {
    let info = node
        .status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .and_then(|i| serde_json::to_value(i).ok())
        .unwrap_or_default();
    let mut found = Found::new();
    for (name, source) in &case.loaded.scenario.cluster.components {
        if let Some(field) = &source.node_info
            && let Some(value) = info.get(field).and_then(|v| v.as_str())
        {
            found.insert(name.clone(), (value.to_owned(), format!("nodeInfo.{field}")));
        }
        if let (Some(id), Some(manifests)) = (&source.image, manifests)
            && let Some(image) = manifests
                .objects
                .iter()
                .find(|o| &o.id() == id)
                .and_then(|o| o.pod_spec())
                .and_then(|p| p.containers.first().and_then(|c| c.image.clone()))
        {
            found.insert(
                name.clone(),
                (tag_of(&image).to_owned(), format!("image of {id}: {image}")),
            );
        }
    }
    found
}

/// The components read from commands run in the container under test (`pod`, ready).
pub async fn from_commands(case: &Case, workload: &Workload, pod: &str) -> Found {
    let mut found = Found::new();
    for (name, source) in &case.loaded.scenario.cluster.components {
        let Some(argv) = &source.exec else { continue };
        let Ok(output) = exec(workload, pod, argv.clone()).await else {
            continue;
        };
        if let Some(version) = first_version(&format!("{}\n{}", output.stdout, output.stderr)) {
            found.insert(name.clone(), (version, format!("output of `{}`", argv.join(" "))));
        }
    }
    found
}

/// The tag of an image reference (`repo:tag`, or the digest of `repo@sha256:...`), else `latest`.
fn tag_of(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return digest;
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split_once(':').map_or("latest", |(_, tag)| tag)
}

/// The first version-looking word of `text`: `v0.10.0-rc.7`, `1.7.29`, `10.0.20348`.
fn first_version(text: &str) -> Option<String> {
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bv?\d+\.\d+(\.\d+)*([-+][0-9A-Za-z.-]+)?").unwrap());
    VERSION
        .find(text)
        .map(|m| m.as_str().trim_end_matches(['.', '-']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_tags_are_read_as_a_person_would() {
        assert_eq!(
            first_version("containerd-shim-runhcs-v1.exe:\n  version: v0.10.0-rc.7\n  go: go1.20.1"),
            Some("v0.10.0-rc.7".to_owned())
        );
        assert_eq!(
            first_version("Version 10.0.20348.4773."),
            Some("10.0.20348.4773".to_owned())
        );
        assert_eq!(first_version("no version here"), None);
        assert_eq!(
            tag_of("sigwindowstools/flannel:v0.21.5-hostprocess"),
            "v0.21.5-hostprocess"
        );
        assert_eq!(tag_of("localhost:5000/flannel"), "latest");
        assert_eq!(tag_of("repo/x@sha256:abc"), "sha256:abc");
    }
}
