//! Every reason a lane gives for a step it did not run, worded once, each with what the user can do.

/// No `--context`: the cluster lane has nowhere to run.
pub fn no_context(allowed: &[String]) -> String {
    format!("no kube context named (pass --context; {})", allowed_contexts(allowed))
}

/// The context given is one this scenario may not act on.
pub fn context_not_allowed(name: &str, allowed: &[String]) -> String {
    format!(
        "context `{name}` is not one this scenario may act on ({})",
        allowed_contexts(allowed)
    )
}

/// A scenario whose `cluster.distribution` is `none`: it is about a host only.
pub const NO_CLUSTER: &str = "this scenario targets no cluster (cluster.distribution: none); its steps run on the \
     host lane (give a distribution, e.g. `kubeadm`, to run it on a cluster)";

/// A build step of a workload without an endpoint to send it to.
pub const NO_ENDPOINT: &str = "the workload has no endpoint to send the build to (add `workload.endpoint: {port: N}`)";

/// No node carries the scenario's nodeSelector.
pub fn no_node(selector: &str) -> String {
    format!("no node matches the nodeSelector {selector} (label a Windows node, or fix cluster.nodeSelector)")
}

/// A precondition of `cluster.requires` that the cluster does not meet.
pub fn requirement_unmet(component: &str, found: &str, requirement: &str) -> String {
    format!("{component} is {found} here; the scenario requires {requirement}")
}

/// A matrix cell bound to a component version the node does not run: the case is for another cluster.
pub fn cell_elsewhere(component: &str, value: &str, found: &str) -> String {
    format!("cell {component}={value} is for {component} {value}; the node runs {found}")
}

/// A cell mapped to a context (`cluster.cells`) this run cannot use.
pub fn mapped_context_unusable(name: &str, reason: &str) -> String {
    format!("cluster.cells maps this cell to context `{name}`, which this run cannot use: {reason}")
}

/// A probe that runs in the workload's container (exec, program, logs) on the host lane.
pub fn cluster_only(kind: &str) -> String {
    format!(
        "{} probe runs in the workload's container: only the cluster lane runs it",
        a_or_an(kind)
    )
}

/// `kind` with its article.
fn a_or_an(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// The rollout step after an image that did not arrive.
pub const NOT_PULLED: &str = "the workload's image was not pulled (see the pull step)";

/// A step that needs the workload running, after a rollout that failed.
pub const NOT_ROLLED_OUT: &str = "the workload did not roll out (see the rollout step)";

/// The service step of a variant without `registerService`.
pub const NO_SERVICE: &str = "this variant registers no service";

/// A Windows build on a simulated node, without a Linux twin.
pub const BUILD_WITHOUT_TWIN: &str = "the node is simulated and its buildkitd is Linux, so this Windows build cannot \
     run there; give the build a Linux `twin` for the test bed, or run on a real Windows node";

/// The cluster lane's build client is missing.
pub const NO_BUILDCTL: &str = "buildctl (buildkit's client) was not found";

/// The host lane anywhere but Windows.
pub fn not_windows(os: &str) -> String {
    format!("the host lane needs an elevated Windows machine; this is {os} (GitHub's windows-2022 runners are)")
}

/// The host lane in a process without administrator rights.
pub const NOT_ELEVATED: &str =
    "the host lane needs an elevated Windows machine; this process is not elevated (run it as Administrator)";

/// A Windows without the bind filter's user-mode API.
pub fn no_bind_filter(dll: &str) -> String {
    format!("the bind filter API is not installed here ({dll} is missing; it ships with Windows Server 2019 and later)")
}

/// A layer probe naming a snapshot folder this machine does not have.
pub fn no_snapshot_folder(folder: &str) -> String {
    format!("the snapshot folder {folder} does not exist here (give one of this machine's, or `latest`)")
}

/// A layer probe on a machine where containerd has committed no snapshot.
pub fn no_snapshot(roots: &[&str]) -> String {
    format!(
        "no containerd snapshot with a Files folder on this machine (looked in {}; pull a Windows image first)",
        roots.join(", ")
    )
}

/// What to do about a step the harness could not observe, by what went wrong (`lanes::Unobserved`): said once here,
/// after the message that says what happened.
pub mod unobserved {
    /// The API server erred, refused or did not answer.
    pub const API: &str = "check that the cluster answers and that the context's user may do this (kubectl auth can-i); rerun when it does";
    /// The harness would not act on something it could not prove this run made.
    pub const NOT_OWNED: &str = "nothing was changed on the cluster; if an earlier run left it, remove it with \
         `harness janitor --context CONTEXT --run-id ID`, otherwise deploy the workload into a namespace of its own";
    /// A command in the workload (the probe, a service command) could not run or printed nothing usable.
    pub const EXEC: &str = "check that the pod runs and that its image carries the command (bindprobe.exe on PATH)";
    /// A wait ran out.
    pub const TIMEOUT: &str =
        "look at the cluster's events for the step; raise --request-timeout if the cluster is slow";
    /// The node went NotReady during the step.
    pub const NODE_NOT_READY: &str = "the node's kubelet stopped reporting Ready: look at the node (kubectl describe node) and rerun when it is Ready";
}

/// A step after the node the workload ran on went NotReady in an earlier one.
pub const NODE_WENT_AWAY: &str = "the node went NotReady during an earlier step (see it)";

/// Which contexts a scenario may act on, as a clause: its own `cluster.contexts`, and always the test bed.
fn allowed_contexts(allowed: &[String]) -> String {
    match allowed {
        [] => {
            "this scenario lists no context in cluster.contexts, so only the harness's test bed is allowed".to_owned()
        }
        [one] => format!("this scenario allows {one} and the harness's test bed"),
        [rest @ .., last] => format!(
            "this scenario allows {}, {last} and the harness's test bed",
            rest.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_contexts_read_well_for_none_one_and_several() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            no_context(&[]),
            "no kube context named (pass --context; this scenario lists no context in cluster.contexts, so only the \
             harness's test bed is allowed)"
        );
        assert!(no_context(&names(&["a"])).ends_with("this scenario allows a and the harness's test bed)"));
        assert!(
            context_not_allowed("x", &names(&["a", "b", "c"]))
                .ends_with("(this scenario allows a, b, c and the harness's test bed)")
        );
        assert!(!no_context(&[]).contains(" , "));
    }
}
