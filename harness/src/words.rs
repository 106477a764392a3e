//! The words every stage shares (DESIGN.md): where a case runs, where a result comes from, and the versions of the
//! environment. Scenario, lanes, judge and reports depend on this module; it depends on none of them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A place a case can run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
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

    /// The lane's own variants, where it runs those instead of the scenario's: the host lane runs each probe natively
    /// and inside a silo it creates.
    pub fn own_variants(self) -> Option<&'static [&'static str]> {
        match self {
            Lane::Host => Some(&["native", "in-silo"]),
            Lane::Offline | Lane::Cluster => None,
        }
    }

    /// Whether the lane goes through `step` (what an expectation for this lane may name).
    pub fn has_step(self, step: Step) -> bool {
        match self {
            Lane::Offline => matches!(step, Step::Render),
            Lane::Host => matches!(step, Step::Probe(_)),
            Lane::Cluster => match step {
                Step::Preflight
                | Step::Pull
                | Step::Rollout
                | Step::Service
                | Step::Probe(_)
                | Step::Build(_)
                | Step::Teardown => true,
                Step::Render => false,
            },
        }
    }

    /// The steps it goes through, as a user would write them.
    pub fn steps(self) -> &'static str {
        match self {
            Lane::Offline => "`render`",
            Lane::Host => "`probe/<name>`",
            Lane::Cluster => "`preflight`, `pull`, `rollout`, `service`, `probe/<name>`, `build/<name>`, `teardown`",
        }
    }

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

/// One step of a case, as outcomes and expectations name it: `render`, `preflight`, `pull`, `rollout`, `service`,
/// `probe/<name>`, `build/<name>`, `teardown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Render,
    Preflight,
    /// The workload's image reaching the node.
    Pull,
    Rollout,
    Service,
    Probe(&'a str),
    Build(&'a str),
    Teardown,
}

impl<'a> Step<'a> {
    /// The step a name stands for, if it is one.
    pub fn parse(name: &'a str) -> Option<Step<'a>> {
        match name.split_once('/') {
            Some(("probe", probe)) if !probe.is_empty() => Some(Step::Probe(probe)),
            Some(("build", build)) if !build.is_empty() => Some(Step::Build(build)),
            Some(_) => None,
            None => match name {
                "render" => Some(Step::Render),
                "preflight" => Some(Step::Preflight),
                "pull" => Some(Step::Pull),
                "rollout" => Some(Step::Rollout),
                "service" => Some(Step::Service),
                "teardown" => Some(Step::Teardown),
                _ => None,
            },
        }
    }
}

/// Where a result comes from. Simulated results are shown apart and never accepted as real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    Real,
    Simulated,
}

/// A versioned part of the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Component {
    K0s,
    Kubelet,
    Containerd,
    WindowsBuild,
    Buildkit,
}

impl Component {
    pub const ALL: &[Component] = &[
        Component::K0s,
        Component::Kubelet,
        Component::Containerd,
        Component::WindowsBuild,
        Component::Buildkit,
    ];

    /// The component a scenario file names so (`containerd`, `windowsBuild`), if any.
    pub fn named(name: &str) -> Option<Component> {
        Component::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::K0s => "k0s",
            Component::Kubelet => "kubelet",
            Component::Containerd => "containerd",
            Component::WindowsBuild => "windowsBuild",
            Component::Buildkit => "buildkit",
        }
    }
}

/// Versions of the parts that matter, as declared or as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k0s: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containerd: Option<String>,
    /// `major.ubr` of Windows Server, e.g. `20348.4773`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildkit: Option<String>,
    /// The scenario's own components (`cluster.components`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, String>,
}

impl Environment {
    /// The version of the component named `name`: a built-in one, else one of the scenario's own.
    pub fn named(&self, name: &str) -> Option<&str> {
        match Component::named(name) {
            Some(component) => self.get(component),
            None => self.components.get(name).map(String::as_str),
        }
    }

    /// Every version known, built-in components first: `(name, version)`.
    pub fn versions(&self) -> Vec<(&str, &str)> {
        Component::ALL
            .iter()
            .filter_map(|c| self.get(*c).map(|v| (c.as_str(), v)))
            .chain(self.components.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect()
    }

    /// The declared version of one component.
    pub fn get(&self, component: Component) -> Option<&str> {
        match component {
            Component::K0s => self.k0s.as_deref(),
            Component::Kubelet => self.kubelet.as_deref(),
            Component::Containerd => self.containerd.as_deref(),
            Component::WindowsBuild => self.windows_build.as_deref(),
            Component::Buildkit => self.buildkit.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_belong_to_their_lanes() {
        assert_eq!(Step::parse("probe/bind"), Some(Step::Probe("bind")));
        assert_eq!(Step::parse("build/hello"), Some(Step::Build("hello")));
        for bad in ["probe/", "servic", "lane", "x/y", ""] {
            assert_eq!(Step::parse(bad), None, "{bad}");
        }
        assert!(Lane::Host.has_step(Step::Probe("p")) && !Lane::Host.has_step(Step::Rollout));
        assert!(Lane::Offline.has_step(Step::Render) && !Lane::Offline.has_step(Step::Teardown));
        assert!(Lane::Cluster.has_step(Step::Build("b")) && !Lane::Cluster.has_step(Step::Render));
    }
}
