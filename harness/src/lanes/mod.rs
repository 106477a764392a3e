//! Where a case runs: `offline` always, `host` on an elevated Windows machine, `cluster` against a kube context.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A place a case can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    /// Parse, validate, render, plan: runs everywhere.
    Offline,
    /// A Windows machine itself: the probe natively and inside a silo the harness creates, no Kubernetes.
    Host,
    /// A kube context: a real k0s cluster, or the simulated test bed.
    Cluster,
}

impl Lane {
    pub const ALL: &[Lane] = &[Lane::Offline, Lane::Host, Lane::Cluster];

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Offline => "offline",
            Lane::Host => "host",
            Lane::Cluster => "cluster",
        }
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
