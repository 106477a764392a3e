//! Semantic checks: what Kubernetes or Windows would reject later, or what would make a case meaningless, caught now.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use regex::Regex;

use crate::classify::Stage;
use crate::scenario::error::Problem;
use crate::scenario::expect::{Bound, Expectation, Expectations, Expected, Rate};
use crate::scenario::load::{Doc, limits};
use crate::scenario::model::{API_VERSION, Probe, Scenario};
use crate::scenario::objects::Object;
use crate::scenario::params;
use crate::scenario::version::Requirement;
use crate::words::{Lane, Step};

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$").unwrap());
static PARAMETER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").unwrap());
static WINDOWS_ABSOLUTE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z]:[\\/]").unwrap());
static PLATFORM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?$").unwrap());
static ADDR_PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^tcp://[^/]*:(\d+)$").unwrap());

/// A check's findings so far.
pub struct Checks<'a> {
    pub doc: &'a Doc,
    pub problems: Vec<Problem>,
}

impl Checks<'_> {
    fn at(&mut self, path: &[&str], message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(self.doc.problem(path, message).help(help));
    }
}

/// Checks a parsed scenario against itself and the repository it lives in (`root`).
pub fn scenario(doc: &Doc, scenario: &Scenario, root: &Path) -> Vec<Problem> {
    let mut checks = Checks {
        doc,
        problems: Vec::new(),
    };
    let c = &mut checks;
    if scenario.api_version != API_VERSION {
        c.at(
            &["apiVersion"],
            format!("unsupported apiVersion `{}`", scenario.api_version),
            format!("this harness reads `{API_VERSION}`"),
        );
    }
    if scenario.kind != "Scenario" {
        c.at(
            &["kind"],
            format!("kind must be `Scenario`, not `{}`", scenario.kind),
            "write `kind: Scenario`",
        );
    }
    name(c, &["metadata", "name"], &scenario.metadata.name);
    environment(c, scenario);
    parameters(c, scenario);
    if scenario.cluster.node_selector.is_empty() {
        c.at(
            &["cluster", "nodeSelector"],
            "nodeSelector is empty",
            "say which nodes the workload runs on, e.g. `kubernetes.io/os: windows`",
        );
    }
    if scenario.variants.is_empty() {
        c.at(
            &["variants"],
            "no variants",
            "declare at least `reproduction: {}`: the workload as the bug report deploys it",
        );
    }
    for (index, (variant_name, variant)) in scenario.variants.iter().enumerate() {
        name(c, &["variants", &format!("@{variant_name}")], variant_name);
        // A variant is a way of deploying the workload: one that changes nothing another variant does not is the same
        // experiment twice (a "workaround" that is the reproduction), whatever its description says.
        if let Some((same, _)) = scenario.variants[..index]
            .iter()
            .find(|(_, earlier)| earlier.deployment() == variant.deployment() && earlier.cells == variant.cells)
        {
            c.at(
                &["variants", &format!("@{variant_name}")],
                format!("variant `{variant_name}` deploys the workload exactly as `{same}` does"),
                "a variant must change something (`image`, `args`, `env`, `mounts`, `patches`, `registerService`) or run in other `cells`; remove it, or give it its change",
            );
        }
        if let Some(value) = &variant.image {
            image(c, scenario, &["variants", variant_name, "image"], value);
        }
        for env in variant.env.keys() {
            static ENV: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_.-]*$").unwrap());
            if !ENV.is_match(env) {
                c.at(
                    &["variants", variant_name, "env", &format!("@{env}")],
                    format!("`{env}` is not an environment variable name"),
                    "use letters, digits and underscores, not starting with a digit",
                );
            }
        }
        variant_cells(c, scenario, variant_name, &variant.cells);
        for (i, patch) in variant.patches.iter().enumerate() {
            if patch.json.is_some() == patch.merge.is_some() {
                c.at(
                    &["variants", variant_name, "patches", &i.to_string()],
                    "a patch is either `json` or `merge`",
                    "give `json: [{op: replace, path: /spec/..., value: ...}]` or `merge: {spec: ...}`, one per patch",
                );
            }
        }
        if let Some(service) = &variant.register_service {
            let at = |field: &str| ["variants", variant_name.as_str(), "registerService", field].map(str::to_owned);
            if let Err((message, help)) = service_name(&service.name) {
                c.at(&at("name").each_ref().map(String::as_str), message, help);
            }
            for field in ["hostDir", "logFile"] {
                let value = if field == "hostDir" {
                    &service.host_dir
                } else {
                    &service.log_file
                };
                windows_path(c, &at(field).each_ref().map(String::as_str), value);
            }
        }
    }
    for (probe_name, probe) in &scenario.probes {
        name(c, &["probes", &format!("@{probe_name}")], probe_name);
        let kind = probe.kind();
        tries(c, &["probes", probe_name, kind, "tries"], probe.tries());
        match probe {
            Probe::Bind(bind) => {
                windows_path(c, &["probes", probe_name, "bind", "src"], &bind.src);
                windows_path(c, &["probes", probe_name, "bind", "dst"], &bind.dst);
                if bind.src.eq_ignore_ascii_case(&bind.dst) {
                    c.at(
                        &["probes", probe_name, "bind", "dst"],
                        "src and dst are the same directory",
                        "bind one fresh directory onto another",
                    );
                }
            }
            Probe::Layer(layer) => {
                if layer.snapshot != "latest" {
                    windows_path(c, &["probes", probe_name, "layer", "snapshot"], &layer.snapshot);
                }
                windows_path(c, &["probes", probe_name, "layer", "dst"], &layer.dst);
            }
            Probe::Program(program) => {
                let at = ["probes", probe_name.as_str(), "program"];
                if let Some(real) = fixture_path(c, &[&at[..], &["file"]].concat(), root, &program.file)
                    && !real.is_file()
                {
                    c.at(
                        &[&at[..], &["file"]].concat(),
                        format!("`{}` is not a file", program.file),
                        "give the program's file under fixtures/, e.g. `fixtures/programs/repro.exe`",
                    );
                }
                if let Some(twin) = &program.twin
                    && let Some(real) = fixture_path(c, &[&at[..], &["twin"]].concat(), root, twin)
                    && !std::fs::read(&real).is_ok_and(|bytes| bytes.starts_with(b"#!"))
                {
                    c.at(
                        &[&at[..], &["twin"]].concat(),
                        format!("`{twin}` is not a script with a `#!` line"),
                        "the test bed runs a twin as a Linux script: start it with e.g. `#!/bin/sh`",
                    );
                }
            }
            Probe::Logs(logs) => {
                if let Some(object) = &logs.object
                    && !object.contains('/')
                {
                    c.at(
                        &["probes", probe_name, "logs", "object"],
                        format!("`{object}` is not `Kind/name`"),
                        "name an object of the workload, e.g. `DaemonSet/kube-proxy-windows`",
                    );
                }
            }
            Probe::Exec(exec) => {
                if exec.argv.first().is_none_or(|program| program.trim().is_empty()) {
                    c.at(
                        &["probes", probe_name, "exec", "argv"],
                        "the command is empty",
                        "give the program and its arguments, e.g. `argv: [cmd.exe, /c, ver]`",
                    );
                }
            }
        }
    }
    for (key, value) in [
        ("pullTimeout", &scenario.workload.pull_timeout),
        ("rolloutTimeout", &scenario.workload.rollout_timeout),
        ("execTimeout", &scenario.workload.exec_timeout),
    ] {
        if let Some(value) = value {
            duration(c, &["workload", key], value);
        }
    }
    if !scenario.builds.is_empty() && scenario.workload.endpoint.is_none() {
        c.at(
            &["@workload"],
            "builds are declared but the workload has no endpoint to send them to",
            "add `endpoint: {port: N}` to `workload`: the port buildkitd listens on (`--addr tcp://0.0.0.0:N`)",
        );
    }
    for (build_name, build) in &scenario.builds {
        name(c, &["builds", &format!("@{build_name}")], build_name);
        build_context(c, &["builds", build_name], root, &build.context, &build.dockerfile);
        tries(c, &["builds", build_name, "tries"], build.tries);
        if let Some(twin) = &build.twin {
            build_context(
                c,
                &["builds", build_name, "twin"],
                root,
                &twin.context,
                &twin.dockerfile,
            );
        }
        if !PLATFORM.is_match(&build.platform) {
            c.at(
                &["builds", build_name, "platform"],
                format!("`{}` is not a platform", build.platform),
                "write os/arch, e.g. `windows/amd64`",
            );
        }
        duration(c, &["builds", build_name, "timeout"], &build.timeout);
    }
    expectations(c, scenario, &scenario.expect, &["expect"]);
    overrides(c, scenario);
    checks.problems
}

/// A build context (`at` holds `context` and `dockerfile`): a folder under `fixtures/` with its Dockerfile.
fn build_context(c: &mut Checks, at: &[&str], root: &Path, context: &str, dockerfile: &str) {
    let context_at = [at, &["context"]].concat();
    let Some(folder) = fixture_path(c, &context_at, root, context) else {
        return;
    };
    if !folder.is_dir() {
        c.at(
            &context_at,
            format!("build context `{context}` is not a folder"),
            "point at a folder under fixtures/builds/",
        );
        return;
    }
    // The Dockerfile: a relative path that stays inside its build context, naming a regular file there.
    let dockerfile_at = [at, &["dockerfile"]].concat();
    let relative = Path::new(dockerfile);
    let plain = relative
        .components()
        .all(|part| matches!(part, std::path::Component::Normal(_)));
    if dockerfile.is_empty() || !plain || dockerfile.contains('\\') {
        c.at(
            &dockerfile_at,
            format!("`{dockerfile}` is not a path inside the build context"),
            "give the Dockerfile's path relative to the build context, without `..`, e.g. `Dockerfile`",
        );
        return;
    }
    match folder.join(relative).canonicalize() {
        Ok(real) if !real.starts_with(&folder) => c.at(
            &dockerfile_at,
            format!("`{dockerfile}` leaves the build context"),
            "the Dockerfile must be a file inside the build context, not a link out of it",
        ),
        Ok(real) if real.is_file() => {}
        _ => c.at(
            &context_at,
            format!("no `{dockerfile}` in build context `{context}`"),
            "add the Dockerfile, or name it with `dockerfile:`",
        ),
    }
}

fn name(c: &mut Checks, path: &[&str], value: &str) {
    if !NAME.is_match(value) {
        c.at(
            path,
            format!("`{value}` is not a valid name"),
            "use lower-case letters, digits and dashes (at most 63), starting and ending with a letter or digit",
        );
    }
}

fn windows_path(c: &mut Checks, path: &[&str], value: &str) {
    if !WINDOWS_ABSOLUTE.is_match(value) {
        c.at(
            path,
            format!("`{value}` is not an absolute Windows path"),
            "write a path on the node with its drive, e.g. `C:\\buildkitd\\src-test`",
        );
    } else if value[2..].contains(['"', '<', '>', '|', '?', '*', ':']) || value.chars().any(char::is_control) {
        c.at(
            path,
            "this path holds a character Windows does not allow in paths",
            "remove quotes, `<>|?*:` (after the drive) and control characters",
        );
    } else if value[2..].contains("\\\\") {
        // YAML single quotes keep every backslash: 'C:\\x' is the path C:\\x, not C:\x.
        c.at(
            path,
            format!("`{value}` holds doubled backslashes: YAML single quotes do not unescape `\\\\`"),
            {
                let single = value.replace("\\\\", "\\");
                let double = single.replace('\\', "\\\\");
                format!("write '{single}' in single quotes, or \"{double}\" in double quotes")
            },
        );
    }
}

/// Services the node itself runs: a scenario never registers, stops or deletes these.
const NODE_SERVICES: &[&str] = &[
    "kubelet",
    "kube-proxy",
    "containerd",
    "docker",
    "k0sworker",
    "k0scontroller",
    "k0s",
    "rke2",
    "flanneld",
    "calico-node",
    "calicofelix",
    "csi-proxy",
    "hns",
    "vmcompute",
    "winrm",
    "sshd",
    "eventlog",
    "w32time",
];

/// Whether `name` is one a scenario may register as its own Windows service: a plain name (no wildcards, spaces,
/// slashes or control characters, at most 80 characters) that is not one of the node's own services.
pub fn service_name(name: &str) -> Result<(), (String, &'static str)> {
    static SERVICE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$").unwrap());
    if !SERVICE.is_match(name) {
        return Err((
            format!("`{name}` is not a service name the harness registers"),
            "use 1-80 letters, digits, dots, dashes and underscores (no wildcards, spaces or slashes), e.g. `buildkitd`",
        ));
    }
    if NODE_SERVICES.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        return Err((
            format!("`{name}` is a service the node itself runs"),
            "name the workaround's own service, e.g. `buildkitd`; the harness never stops or deletes the node's services",
        ));
    }
    Ok(())
}

/// Parses a duration such as `10m` or `90s`, between one second and a day.
pub fn parse_duration(value: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(value) {
        Ok(d) if d < std::time::Duration::from_secs(1) => Err(format!("duration `{value}` is shorter than 1s")),
        Ok(d) if d > std::time::Duration::from_secs(24 * 3600) => Err(format!("duration `{value}` is longer than 24h")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("`{value}` is not a duration ({e})")),
    }
}

fn duration(c: &mut Checks, path: &[&str], value: &str) {
    if let Err(message) = parse_duration(value) {
        c.at(
            path,
            message,
            "write a duration from 1s to 24h, such as `90s`, `10m` or `1h`",
        );
    }
}

/// A path under `fixtures/` of the repository at `root`, if it is one: relative, and not escaping the repository.
pub fn fixture_path(c: &mut Checks, path: &[&str], root: &Path, value: &str) -> Option<PathBuf> {
    let relative = Path::new(value);
    let help = "give a path relative to the repository root, inside fixtures/, e.g. `fixtures/builds/hello`";
    if relative.is_absolute() || value.contains('\\') || !relative.starts_with("fixtures") {
        c.at(path, format!("`{value}` is not a path inside fixtures/"), help);
        return None;
    }
    let fixtures = root.join("fixtures");
    if fixtures.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
        c.at(
            path,
            format!(
                "{} is not a folder of this repository (a link or a file)",
                fixtures.display()
            ),
            "fixtures/ must be a real folder in the repository",
        );
        return None;
    }
    let joined = root.join(relative);
    let (Ok(real), Ok(real_root)) = (joined.canonicalize(), fixtures.canonicalize()) else {
        c.at(path, format!("`{value}` does not exist"), help);
        return None;
    };
    if !real.starts_with(&real_root) {
        c.at(
            path,
            format!("`{value}` leaves fixtures/ (it resolves to {})", real.display()),
            help,
        );
        return None;
    }
    Some(real)
}

fn tries(c: &mut Checks, path: &[&str], tries: u32) {
    if !(1..=crate::scenario::model::MAX_TRIES).contains(&tries) {
        c.at(
            path,
            format!("`tries: {tries}` is out of range"),
            format!("a step runs from 1 to {} times", crate::scenario::model::MAX_TRIES),
        );
    }
}

/// The interval that `tries` tries can at best show for `bound`: all of them counted (`>=`), or none (`<=`).
fn best_interval(bound: Bound, tries: u32) -> (f64, f64) {
    let n = tries as usize;
    match bound {
        Bound::AtLeast(_) => crate::stats::wilson(n, n),
        Bound::AtMost(_) => crate::stats::wilson(0, n),
    }
}

/// A rate that the step's tries could never show met (its best interval still crosses the bound) is a mistake: the
/// step would never pass. Says how many tries it needs, if any number up to the limit will do.
fn rate_reachable(c: &mut Checks, at: &[&str], rate: &Rate, tries: u32, tries_at: &str) {
    let reachable = |n| {
        let (low, high) = best_interval(rate.bound, n);
        rate.bound.met_by(low, high).0
    };
    if reachable(tries) {
        return;
    }
    let (low, high) = best_interval(rate.bound, tries);
    let help = match (tries..=crate::scenario::model::MAX_TRIES).find(|n| reachable(*n)) {
        Some(needed) => format!("give {tries_at} `tries: {needed}` or more, or loosen the rate"),
        None => format!(
            "no number of tries up to {} can show it: loosen the rate",
            crate::scenario::model::MAX_TRIES
        ),
    };
    c.at(
        at,
        format!(
            "`{}` can never be met in {tries} {}: the best 95% interval they can show is [{low:.3}, {high:.3}]",
            rate.bound,
            if tries == 1 { "try" } else { "tries" }
        ),
        help,
    );
}

/// The fields of a node's `status.nodeInfo` a component may be read from.
const NODE_INFO: &[&str] = &[
    "architecture",
    "bootID",
    "containerRuntimeVersion",
    "kernelVersion",
    "kubeProxyVersion",
    "kubeletVersion",
    "machineID",
    "operatingSystem",
    "osImage",
    "systemUUID",
];

fn environment(c: &mut Checks, scenario: &Scenario) {
    let cluster = &scenario.cluster;
    for (name, source) in &cluster.components {
        let at = ["cluster", "components", name.as_str()];
        if crate::words::Component::named(name).is_some() || !PARAMETER.is_match(name) {
            c.at(
                &["cluster", "components", &format!("@{name}")],
                format!("`{name}` cannot name a component of the scenario's own"),
                "use letters, digits and underscores, and not a built-in component's name (k0s, kubelet, containerd, windowsBuild, buildkit)",
            );
        }
        let given = [
            source.node_info.is_some(),
            source.image.is_some(),
            source.exec.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            c.at(
                &at,
                format!("component `{name}` needs exactly one of `nodeInfo`, `image` or `exec`"),
                "say where it is observed, e.g. `{nodeInfo: kernelVersion}`, `{image: DaemonSet/x}` or `{exec: [tool.exe, --version]}`",
            );
        }
        if let Some(field) = &source.node_info
            && !NODE_INFO.contains(&field.as_str())
        {
            c.at(
                &[&at[..], &["nodeInfo"]].concat(),
                format!("`{field}` is not a field of a node's nodeInfo"),
                format!("one of {}", NODE_INFO.join(", ")),
            );
        }
        if source
            .exec
            .as_ref()
            .is_some_and(|argv| argv.first().is_none_or(|p| p.trim().is_empty()))
        {
            c.at(
                &[&at[..], &["exec"]].concat(),
                "the command is empty",
                "give the program and its arguments, e.g. `[containerd-shim-runhcs-v1.exe, --version]`",
            );
        }
    }
    for (selector, context) in &cluster.cells {
        let at = ["cluster", "cells", selector.as_str()];
        let Some(parts) = crate::scenario::model::cell_selector(selector) else {
            c.at(
                &["cluster", "cells", &format!("@{selector}")],
                format!("`{selector}` does not name a cell"),
                "write `axis=value`, or several joined by commas: `containerd=1.7.3,buildkit=v0.28.0`",
            );
            continue;
        };
        for (axis, value) in parts {
            match scenario.matrix.get(axis) {
                None => c.at(
                    &["cluster", "cells", &format!("@{selector}")],
                    format!("`{axis}` is not a matrix axis"),
                    format!("axes: {}", names(scenario.matrix.keys())),
                ),
                Some(values) if !values.iter().any(|v| v == value) => c.at(
                    &["cluster", "cells", &format!("@{selector}")],
                    format!("`{value}` is not a value of axis `{axis}`"),
                    format!("its values: {}", values.join(", ")),
                ),
                Some(_) => {}
            }
        }
        if !cluster.contexts.contains(context) {
            c.at(
                &at,
                format!("context `{context}` is not one this scenario may act on"),
                "add it to `cluster.contexts`",
            );
        }
    }
    let known = |name: &str| crate::words::Component::named(name).is_some() || cluster.components.contains_key(name);
    let all = || {
        crate::words::Component::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .chain(cluster.components.keys().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in cluster.expects.components.keys() {
        if !cluster.components.contains_key(name) {
            c.at(
                &["cluster", "expects", "components", &format!("@{name}")],
                format!("`{name}` is not a component the scenario declares"),
                "declare it under `cluster.components` (with where it is observed), or remove it",
            );
        }
    }
    for (component, requirement) in &cluster.requires {
        if !known(component) {
            c.at(
                &["cluster", "requires", &format!("@{component}")],
                format!("`{component}` is not a component"),
                format!("components: {}; declare others under `cluster.components`", all()),
            );
            continue;
        }
        match Requirement::parse(requirement) {
            Err(message) => c.at(
                &["cluster", "requires", component.as_str()],
                message,
                "write a comparison and a dotted version, e.g. `>=1.7`",
            ),
            Ok(parsed) => {
                if let Some(version) = cluster.expects.named(component)
                    && !parsed.matches(version)
                {
                    c.at(
                        &["cluster", "requires", component.as_str()],
                        format!("the declared {component} {version} does not meet `{parsed}`"),
                        "the scenario would skip its own declared environment: fix `expects` or `requires`",
                    );
                }
            }
        }
    }
}

fn parameters(c: &mut Checks, scenario: &Scenario) {
    for name in scenario.parameters.keys() {
        if !PARAMETER.is_match(name) {
            c.at(
                &["parameters", &format!("@{name}")],
                format!("`{name}` is not a parameter name"),
                "use letters, digits and underscores",
            );
        }
    }
    for (axis, values) in &scenario.matrix {
        if !PARAMETER.is_match(axis) {
            c.at(
                &["matrix", &format!("@{axis}")],
                format!("`{axis}` is not a matrix axis name"),
                "use letters, digits and underscores",
            );
        }
        if values.is_empty() {
            c.at(
                &["matrix", axis],
                format!("matrix axis `{axis}` has no values"),
                "list at least one value, or remove the axis",
            );
        }
        for (i, value) in values.iter().enumerate() {
            if values[..i].contains(value) {
                c.at(
                    &["matrix", axis, &i.to_string()],
                    format!("`{value}` appears twice in matrix axis `{axis}`"),
                    "remove the repeated value",
                );
            } else if value.is_empty() || value.contains(['/', ' ', '|']) || value.chars().any(char::is_control) {
                c.at(
                    &["matrix", axis, &i.to_string()],
                    format!("matrix value `{value}` cannot be part of a case name"),
                    "use a value without spaces, slashes, `|` or control characters",
                );
            } else if (crate::words::Component::named(axis).is_some() || scenario.cluster.components.contains_key(axis))
                && crate::scenario::version::numbers(value).is_none()
            {
                c.at(
                    &["matrix", axis, &i.to_string()],
                    format!(
                        "`{value}` is not a version: axis `{axis}` selects the cells whose {axis} version the node runs"
                    ),
                    "write a dotted version, e.g. `1.7.29` or `v1.34.2`, or rename the axis if it only labels cases",
                );
            }
        }
    }
    let cells = crate::scenario::matrix::cell_count(&scenario.matrix);
    let cases = cells.saturating_mul(scenario.variants.len().max(1));
    if cases > limits::MAX_CASES {
        c.at(
            &["matrix"],
            format!(
                "the matrix expands into {cases} cases ({} cells x {} variants); at most {} are allowed",
                cells,
                scenario.variants.len(),
                limits::MAX_CASES
            ),
            "split the scenario, or drop values from its axes",
        );
    }
    if let Some(value) = &scenario.workload.image {
        image(c, scenario, &["workload", "image"], value);
    }
}

/// An image reference (`at`): no whitespace, placeholders the scenario declares.
fn image(c: &mut Checks, scenario: &Scenario, at: &[&str], value: &str) {
    if value.trim().is_empty() || value.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        c.at(
            at,
            "the image is empty or holds whitespace or a control character",
            "give an image reference such as `${registry}/buildkitd:v0.28.0`",
        );
    }
    let known = |name: &str| scenario.parameters.contains_key(name) || scenario.matrix.contains_key(name);
    match params::placeholders(value) {
        Ok(names) => {
            for missing in names.into_iter().filter(|n| !known(n)) {
                c.at(
                    at,
                    format!("`${{{missing}}}` is neither a parameter nor a matrix axis"),
                    format!("declare `{missing}` under `parameters:` or `matrix:`"),
                );
            }
        }
        Err(message) => c.at(at, message, "write placeholders as `${name}`"),
    }
}

/// A variant's `cells`: axes of the matrix, each a value of it or a version requirement some value meets.
fn variant_cells(c: &mut Checks, scenario: &Scenario, variant: &str, cells: &indexmap::IndexMap<String, String>) {
    for (axis, wanted) in cells {
        let at = ["variants", variant, "cells", axis.as_str()];
        let Some(values) = scenario.matrix.get(axis) else {
            c.at(
                &["variants", variant, "cells", &format!("@{axis}")],
                format!("`{axis}` is not a matrix axis"),
                format!("axes: {}", names(scenario.matrix.keys())),
            );
            continue;
        };
        if !values
            .iter()
            .any(|value| crate::scenario::matrix::selects(wanted, value))
        {
            c.at(
                &at,
                format!("no value of axis `{axis}` is `{wanted}`, so this variant would never run"),
                format!("give one of {} or a requirement such as `<1.7`", values.join(", ")),
            );
        }
    }
}

/// What names the workload's objects: the variants' patches, applied once to the workload as written (a patch that
/// does not apply is located here), and the objects logs probes read.
pub fn against_workload(doc: &Doc, scenario: &Scenario, workload: &crate::scenario::objects::Workload) -> Vec<Problem> {
    let mut problems = Vec::new();
    let with_pods: Vec<String> = workload
        .objects
        .iter()
        .filter(|o| o.pods_at().is_some())
        .map(|o| o.id())
        .collect();
    for (name, source) in &scenario.cluster.components {
        if let Some(id) = &source.image
            && !with_pods.contains(id)
        {
            problems.push(
                doc.problem(
                    &["cluster", "components", name, "image"],
                    format!("the workload has no object `{id}` that runs pods"),
                )
                .help(format!("name one of: {}", with_pods.join(", "))),
            );
        }
    }
    for (name, probe) in &scenario.probes {
        if let Probe::Logs(crate::scenario::model::LogsProbe { object: Some(id), .. }) = probe
            && !with_pods.contains(id)
        {
            problems.push(
                doc.problem(
                    &["probes", name, "logs", "object"],
                    format!("the workload has no object `{id}` that runs pods"),
                )
                .help(format!("name one of: {}", with_pods.join(", "))),
            );
        }
    }
    for (name, variant) in &scenario.variants {
        if let Err((i, message)) = crate::render::patched(&workload.objects, workload.under_test, &variant.patches) {
            problems.push(
                doc.problem(
                    &["variants", name, "patches", &i.to_string()],
                    format!("this patch does not apply: {message}"),
                )
                .help(format!(
                    "patch an object of the workload (`target: Kind/name`, default {}) at a path it has",
                    workload.under_test().id()
                )),
            );
        }
    }
    problems
}

fn overrides(c: &mut Checks, scenario: &Scenario) {
    if crate::scenario::matrix::cell_count(&scenario.matrix) > limits::MAX_CASES {
        return; // reported with the matrix; expanding it would cost what the limit is there to prevent
    }
    let cells = crate::scenario::matrix::cells(&scenario.matrix);
    for (i, matrix_override) in scenario.overrides.iter().enumerate() {
        let index = i.to_string();
        let mut parsed = Vec::new();
        for (axis, requirement) in &matrix_override.when {
            let at = ["overrides", index.as_str(), "when", axis.as_str()];
            if !scenario.matrix.contains_key(axis) {
                c.at(
                    &["overrides", index.as_str(), "when", &format!("@{axis}")],
                    format!("`{axis}` is not a matrix axis"),
                    format!("axes: {}", names(scenario.matrix.keys())),
                );
                continue;
            }
            match Requirement::parse(requirement) {
                Ok(requirement) => parsed.push((axis, requirement)),
                Err(message) => c.at(&at, message, "write a comparison and a dotted version, e.g. `<1.7`"),
            }
        }
        if parsed.len() == matrix_override.when.len()
            && !cells
                .iter()
                .any(|cell| parsed.iter().all(|(axis, r)| r.matches(&cell[axis.as_str()])))
        {
            c.at(
                &["overrides", &index, "when"],
                "this override matches no matrix cell",
                "check the matrix values, or remove the override",
            );
        }
        expectations(c, scenario, &matrix_override.expect, &["overrides", &index, "expect"]);
    }
}

fn expectations(c: &mut Checks, scenario: &Scenario, expect: &Expectations, prefix: &[&str]) {
    for (lane, variants) in expect {
        if *lane == Lane::Cluster && !scenario.cluster.distribution.has_cluster() {
            c.at(
                &[prefix, &[&format!("@{lane}")]].concat(),
                "expectations for the cluster lane, but cluster.distribution is `none`",
                "a scenario without a cluster has no cluster lane: move these under `host`, or name the distribution",
            );
            continue;
        }
        for (variant, steps) in variants {
            let variant_known = match lane.own_variants() {
                Some(own) => own.contains(&variant.as_str()),
                None => scenario.variants.contains_key(variant),
            };
            if !variant_known {
                let choices = match lane.own_variants() {
                    Some(own) => own.join(", "),
                    None => scenario.variants.keys().cloned().collect::<Vec<_>>().join(", "),
                };
                c.at(
                    &[prefix, &[lane.as_str(), &format!("@{variant}")]].concat(),
                    format!("`{variant}` is not a variant of the {lane} lane"),
                    format!("use one of: {choices}"),
                );
                continue;
            }
            for (step, expectation) in steps {
                let step_key = format!("@{step}");
                let at = [prefix, &[lane.as_str(), variant.as_str(), step.as_str()]].concat();
                let key = [prefix, &[lane.as_str(), variant.as_str(), step_key.as_str()]].concat();
                let Some(parsed) = Step::parse(step) else {
                    c.at(
                        &key,
                        format!("`{step}` is not a step"),
                        format!("the {lane} lane's steps are {}", lane.steps()),
                    );
                    continue;
                };
                if !lane.has_step(parsed) {
                    let help = match parsed {
                        Step::Build(_) => format!(
                            "the {lane} lane runs no builds (only the cluster lane sends them to buildkitd): expect `{step}` under `cluster`"
                        ),
                        _ => format!("the {lane} lane's steps are {}", lane.steps()),
                    };
                    c.at(&key, format!("the {lane} lane has no `{step}` step"), help);
                    continue;
                }
                if parsed == Step::Rollout {
                    never_at_rollout(c, &at, expectation);
                }
                let layer = match parsed {
                    Step::Probe(probe) => match scenario.probes.get(probe) {
                        Some(probe) => matches!(probe, Probe::Layer(_)),
                        None => {
                            c.at(
                                &key,
                                format!("no probe named `{probe}`"),
                                format!("declared probes: {}", names(scenario.probes.keys())),
                            );
                            continue;
                        }
                    },
                    Step::Build(build) => {
                        if !scenario.builds.contains_key(build) {
                            c.at(
                                &key,
                                format!("no build named `{build}`"),
                                format!("declared builds: {}", names(scenario.builds.keys())),
                            );
                        }
                        false
                    }
                    Step::Service => {
                        if scenario.variants[variant.as_str()].register_service.is_none() {
                            c.at(
                                &key,
                                format!("variant `{variant}` registers no service"),
                                "expect `service` only for a variant with `registerService`",
                            );
                        }
                        false
                    }
                    Step::Render | Step::Preflight | Step::Pull | Step::Rollout | Step::Teardown => false,
                };
                if let Expectation::Rate(rate) = expectation {
                    let (tries, tries_at) = match parsed {
                        Step::Probe(probe) => (scenario.probes[probe].tries(), format!("probe `{probe}`")),
                        Step::Build(build) => (
                            scenario.builds.get(build).map_or(1, |b| b.tries),
                            format!("build `{build}`"),
                        ),
                        _ => (1, String::new()),
                    };
                    if *lane != Lane::Cluster {
                        c.at(
                            &at,
                            format!(
                                "the {lane} lane runs `{step}` once: a rate is judged over the cluster lane's tries"
                            ),
                            "give one expectation (`ok`, `observe` or a class), or expect the rate under `cluster`",
                        );
                    } else if tries_at.is_empty() {
                        c.at(
                            &at,
                            format!("`{step}` runs once: a rate is for a probe or a build with `tries`"),
                            "give one expectation (`ok`, `observe` or a class)",
                        );
                    } else {
                        rate_reachable(c, &at, rate, tries, &tries_at);
                    }
                }
                if let Expectation::Stages(stages) = expectation {
                    if !layer {
                        c.at(
                            &at,
                            format!("`{step}` has no stages"),
                            "give one expectation (`ok`, `observe` or a class); stages are for layer probes",
                        );
                    }
                    for stage in stages.keys().filter(|s| Stage::layer(s).is_none()) {
                        c.at(
                            &[at.as_slice(), &[format!("@{stage}").as_str()]].concat(),
                            format!("`{stage}` is not a layer stage"),
                            format!("stages are: {}", Stage::layer_names()),
                        );
                    }
                }
            }
        }
    }
}

/// Classes the `rollout` step can never end with, so expecting one there is a mistake. The rule is deliberately
/// narrow: `rollout` ends `ok`, `crash-loop`, `rollout-timeout` or `step-timeout`, or with whatever class the
/// classifier reads from the crashed container's termination message and previous log, and a container may print
/// almost anything. Only `image-pull-failed` is certain not to come: the `pull` step ends on the kubelet's pull
/// back-off, the rollout is then not run, and the image-pull rule matches only the kubelet's pull reasons, which a
/// rollout (begun with the image on the node) never sees.
fn never_at_rollout(c: &mut Checks, at: &[&str], expectation: &Expectation) {
    if let Expectation::Whole(Expected::Fails(crate::classify::Class::ImagePullFailed)) = expectation {
        c.at(
            at,
            "`rollout` never ends with `image-pull-failed`: a failed pull ends the `pull` step",
            "expect `pull: image-pull-failed` (the rollout is then skipped), or the class the rollout fails with",
        );
    }
}

/// Whether `name` is a valid name for most kinds: a DNS subdomain (RBAC names may also hold `:`).
pub fn object_name(name: &str) -> bool {
    static OBJECT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9.:-]{0,251}[a-z0-9])?$").unwrap());
    OBJECT.is_match(name)
}

/// Whether `name` is a valid DNS label (a namespace's, a scenario's, a variant's name).
pub fn is_name(name: &str) -> bool {
    NAME.is_match(name)
}

/// Whether the pod's required node affinity admits only Windows nodes: every term (terms are alternatives) requires
/// `kubernetes.io/os` to be `In` a list of `windows` only.
fn affinity_pins_windows(pod: &k8s_openapi::api::core::v1::PodSpec) -> bool {
    let Some(terms) = pod
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|r| &r.node_selector_terms)
    else {
        return false;
    };
    !terms.is_empty()
        && terms.iter().all(|term| {
            term.match_expressions.iter().flatten().any(|e| {
                e.key == "kubernetes.io/os"
                    && e.operator == "In"
                    && e.values
                        .as_ref()
                        .is_some_and(|v| !v.is_empty() && v.iter().all(|v| v == "windows"))
            })
        })
}

fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = names.map(String::as_str).collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// Checks an object that runs pods (`pods_at` is where its pod spec is, `pod` that spec): its selector selects its
/// own pods, HostProcess rules; and for the object under test (`under_test` holds its scenario), the container
/// under test and buildkitd's endpoint. Problems about the scenario's own fields point into `scenario_doc`.
pub fn pod_object(
    object: &Object,
    pods_at: &[&str],
    pod: &PodSpec,
    under_test: Option<&Scenario>,
    scenario_doc: &Doc,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let here = |problems: &mut Vec<Problem>, rest: &[&str], message: String, help: &str| {
        problems.push(object.problem(rest, message).help(help.to_owned()));
    };
    fn joined<'a>(first: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
        first.iter().chain(rest).copied().collect()
    }
    let at_pod = |rest: &[&'static str]| joined(pods_at, rest);
    let what = format!("the {}", object.kind);
    if pods_at.len() > 1 {
        let labels = object
            .value
            .pointer("/spec/template/metadata/labels")
            .and_then(|l| l.as_object());
        let selected = object
            .value
            .pointer("/spec/selector/matchLabels")
            .and_then(|l| l.as_object());
        for (key, value) in selected.into_iter().flatten() {
            if labels.and_then(|l| l.get(key)) != Some(value) {
                here(
                    &mut problems,
                    &["spec", "selector", "matchLabels", key],
                    format!(
                        "selector `{key}: {}` does not match the pod template's labels",
                        value.as_str().unwrap_or_default()
                    ),
                    &format!(
                        "Kubernetes rejects a {} whose selector does not select its own pods: add the label to spec.template.metadata.labels",
                        object.kind
                    ),
                );
            }
        }
    }
    if pod.containers.is_empty() {
        here(
            &mut problems,
            &at_pod(&["containers"]),
            "the pod template has no containers".to_owned(),
            "add the container under test",
        );
    }
    let pod_host_process = pod
        .security_context
        .as_ref()
        .and_then(|s| s.windows_options.as_ref())
        .and_then(|w| w.host_process);
    let container_host_process = |container: &Container| {
        container
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref())
            .and_then(|w| w.host_process)
            .or(pod_host_process)
    };
    let all: Vec<(&str, usize, &Container)> = pod
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| ("initContainers", i, c))
        .chain(pod.containers.iter().enumerate().map(|(i, c)| ("containers", i, c)))
        .collect();
    let any_host_process = all
        .iter()
        .any(|(_, _, container)| container_host_process(container) == Some(true));
    if any_host_process {
        if pod.host_network != Some(true) {
            here(
                &mut problems,
                &at_pod(&["hostNetwork"]),
                "a HostProcess pod must set `hostNetwork: true`".to_owned(),
                "Kubernetes rejects HostProcess pods without host networking: add `hostNetwork: true` to the pod spec",
            );
        }
        for (list, index, container) in &all {
            if container_host_process(container) != Some(true) {
                here(
                    &mut problems,
                    &joined(pods_at, &[list, &index.to_string(), "name"]),
                    format!("container `{}` is not HostProcess, but the pod is", container.name),
                    "every container of a HostProcess pod must be HostProcess: set windowsOptions.hostProcess on the pod, not per container",
                );
            }
        }
        let windows = pod
            .node_selector
            .as_ref()
            .and_then(|s| s.get("kubernetes.io/os"))
            .map(String::as_str)
            == Some("windows")
            || pod.os.as_ref().map(|os| os.name.as_str()) == Some("windows")
            || affinity_pins_windows(pod);
        if !windows {
            here(
                &mut problems,
                &at_pod(&["nodeSelector"]),
                "a HostProcess pod must be pinned to Windows nodes".to_owned(),
                "add `nodeSelector: {kubernetes.io/os: windows}` (or spec.os.name: windows, or a required node affinity with `kubernetes.io/os In [windows]`)",
            );
        }
    }
    let Some(scenario) = under_test else {
        return problems;
    };
    let volumes: Vec<&str> = pod.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
    for (variant_name, variant) in &scenario.variants {
        for (volume, path) in &variant.mounts {
            if !volumes.contains(&volume.as_str()) || path.trim().is_empty() {
                problems.push(
                    scenario_doc
                        .problem(
                            &["variants", variant_name, "mounts", &format!("@{volume}")],
                            format!("{what} has no volume `{volume}` to mount, or the mount path is empty"),
                        )
                        .help(format!(
                            "name a volume of its pod ({}) and where it goes, e.g. `{volume}: /mounts/{volume}`",
                            volumes.join(", ")
                        )),
                );
            }
        }
    }
    if pod.containers.len() > 1 && scenario.workload.container.is_none() {
        problems.push(
            scenario_doc
                .problem(
                    &["workload"],
                    format!("{what} has several containers and none is named as the one under test"),
                )
                .help("name it with `workload.container`"),
        );
    }
    let container = match &scenario.workload.container {
        Some(name) => pod
            .containers
            .iter()
            .position(|c| &c.name == name)
            .map(|i| (i, &pod.containers[i])),
        None => pod.containers.first().map(|c| (0, c)),
    };
    match container {
        None if !pod.containers.is_empty() => problems.push(
            scenario_doc
                .problem(
                    &["workload", "container"],
                    format!(
                        "{what} has no container named `{}`",
                        scenario.workload.container.as_deref().unwrap_or_default()
                    ),
                )
                .help(format!(
                    "name a container of {what}, or leave `container` out to use the first"
                )),
        ),
        None => {}
        Some((index, container)) => {
            let index_text = index.to_string();
            let args_at = joined(pods_at, &["containers", &index_text, "args"]);
            // The service workaround copies the program the container starts by its `command` and registers it.
            let program = container
                .command
                .as_ref()
                .and_then(|c| c.first())
                .filter(|p| !p.trim().is_empty());
            if let Some((variant, _)) = scenario.variants.iter().find(|(_, v)| v.register_service.is_some())
                && program.is_none()
            {
                problems.push(
                    scenario_doc
                        .problem(
                            &["variants", variant, "@registerService"],
                            format!(
                                "`registerService` copies the program the container starts by its `command`, and container `{}` has no `command`",
                                container.name
                            ),
                        )
                        .help("give the container `command: [<path of the program>]` (its arguments in `args`), or change the workaround with `patches`, `image`, `args` or `env`"),
                );
            }
            let args = container.args.iter().flatten();
            let addrs: Vec<&String> = args
                .clone()
                .zip(args.skip(1))
                .filter(|(flag, _)| *flag == "--addr")
                .map(|(_, addr)| addr)
                .collect();
            if addrs.len() > 1 || container.args.iter().flatten().any(|a| a.starts_with("--addr=")) {
                here(
                    &mut problems,
                    &args_at,
                    "buildkitd is given more than one `--addr` (or `--addr=`): the harness knows one endpoint"
                        .to_owned(),
                    "give exactly one `--addr`, `tcp://0.0.0.0:<workload.endpoint.port>`, as two arguments",
                );
            }
            let addr = addrs.first().copied();
            if let Some(port) = addr
                .and_then(|a| ADDR_PORT.captures(a))
                .and_then(|m| m[1].parse::<u16>().ok())
                && let Some(endpoint) = &scenario.workload.endpoint
                && port != endpoint.port
            {
                here(
                    &mut problems,
                    &args_at,
                    format!(
                        "buildkitd listens on port {port}, but workload.endpoint.port is {}",
                        endpoint.port
                    ),
                    "make workload.endpoint.port the port of `--addr`",
                );
            }
        }
    }
    problems
}
