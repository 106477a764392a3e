//! The cluster lane against a fake API server that fails the way real ones do (errors, refusals, stalls, a namespace
//! someone else owns, no server, a broken or missing kubeconfig): the run exits with the right code, changes nothing
//! on the cluster, and never shows the kubeconfig's token.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a whole `harness run` may take before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(60);
/// The route of a run's own namespace (`harness-<run>-<case hash>`): `is` matches any such name in its place.
const NAMESPACE: &str = "/api/v1/namespaces/harness-*";
const NODES: &str = "/api/v1/nodes";

/// What the fake API server does with one request.
enum Reply {
    /// Answers with this status and JSON body.
    Json(u16, Value),
    /// Reads the request and never answers, holding the connection open until the server is dropped.
    Stall,
}

type Behaviour = dyn Fn(&str, &str) -> Reply + Send + Sync;

/// A Kubernetes API server on 127.0.0.1 over plain http, answering by a closure of (method, path with query), and
/// logging every request it receives.
struct FakeApiServer {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<(String, String, String)>>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stopped: Arc<AtomicBool>,
}

impl FakeApiServer {
    fn start(behaviour: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = FakeApiServer {
            address: listener.local_addr().unwrap(),
            requests: Arc::default(),
            held: Arc::default(),
            stopped: Arc::default(),
        };
        let behaviour: Arc<Behaviour> = Arc::new(behaviour);
        let (requests, held, stopped) = (server.requests.clone(), server.held.clone(), server.stopped.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (behaviour, requests, held) = (behaviour.clone(), requests.clone(), held.clone());
                thread::spawn(move || serve(stream, &*behaviour, &requests, &held));
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every (method, path with query) received so far.
    fn requests(&self) -> Vec<(String, String)> {
        self.received()
            .into_iter()
            .map(|(method, path, _)| (method, path))
            .collect()
    }

    /// Every (method, path with query, body) received so far.
    fn received(&self) -> Vec<(String, String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
        self.held.lock().unwrap().clear();
    }
}

/// Reads one request from `stream`, logs it, and replies as `behaviour` says, closing the connection after.
fn serve(
    stream: TcpStream,
    behaviour: &Behaviour,
    requests: &Mutex<Vec<(String, String, String)>>,
    held: &Mutex<Vec<TcpStream>>,
) {
    let _ = stream.set_read_timeout(Some(DEADLINE));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return;
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let text = String::from_utf8_lossy(&body).into_owned();
    requests.lock().unwrap().push((method.clone(), path.clone(), text));
    match behaviour(&method, &path) {
        Reply::Stall => held.lock().unwrap().push(stream),
        Reply::Json(status, body) => {
            let body = body.to_string();
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                reason_phrase(status),
                body.len()
            );
            let mut stream = &stream;
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
            let _ = stream.flush();
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Whether `path` (which may carry a query) is `route`.
fn is(path: &str, route: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    match route.strip_suffix('*') {
        Some(prefix) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
        None => path == route,
    }
}

/// A Kubernetes `Status` failure.
fn status(code: u16, reason: &str, message: &str) -> Reply {
    Reply::Json(
        code,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }),
    )
}

/// The cluster when nothing goes wrong: one Windows node, and nothing else (404 for every other request).
fn cluster(method: &str, path: &str) -> Reply {
    if method == "GET" && is(path, NODES) {
        return Reply::Json(200, node_list());
    }
    status(404, "NotFound", &format!("{path} not found"))
}

fn node_list() -> Value {
    json!({
        "kind": "NodeList",
        "apiVersion": "v1",
        "metadata": { "resourceVersion": "1" },
        "items": [{
            "metadata": {
                "name": "win-node-1",
                "uid": "7c1f5a2e-0000-4000-8000-000000000001",
                "labels": { "kubernetes.io/os": "windows" },
            },
            "status": {
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "boot-1",
                    "containerRuntimeVersion": "containerd://1.7.29",
                    "kernelVersion": "10.0.20348.4773",
                    "kubeProxyVersion": "v1.34.1+k0s",
                    "kubeletVersion": "v1.34.1+k0s",
                    "machineID": "machine-1",
                    "operatingSystem": "windows",
                    "osImage": "Windows Server 2022 Datacenter",
                    "systemUUID": "system-1",
                },
            },
        }],
    })
}

/// The namespace `buildkit`, labelled with `labels`.
fn namespace(labels: Value) -> Reply {
    Reply::Json(
        200,
        json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": "harness-faults-term-00000000",
                "uid": "7c1f5a2e-0000-4000-8000-000000000002",
                "resourceVersion": "2",
                "labels": labels,
            },
            "status": { "phase": "Active" },
        }),
    )
}

/// The fake cluster, but the namespace GET is answered by `reply`.
fn with_namespace(reply: fn() -> Reply) -> impl Fn(&str, &str) -> Reply + Send + Sync + 'static {
    move |method, path| {
        if method == "GET" && is(path, NAMESPACE) {
            reply()
        } else {
            cluster(method, path)
        }
    }
}

/// A token no other test uses, to look for in everything the run shows.
fn secret() -> String {
    format!("s3cr3t-TOKEN-{:016x}", RandomState::new().build_hasher().finish())
}

/// Writes a kubeconfig into `dir` whose contexts `k0s-windows` and `harness-testbed` both reach `server` with `token`.
fn kubeconfig(dir: &Path, server: &str, token: &str) -> PathBuf {
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {server}
users:
- name: tester
  user:
    token: {token}
contexts:
- name: k0s-windows
  context: {{cluster: fake, user: tester}}
- name: harness-testbed
  context: {{cluster: fake, user: tester}}
current-context: k0s-windows
"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// How a `harness run` ended, and where its reports are.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    out_dir: tempfile::TempDir,
}

impl Outcome {
    fn report(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.out_dir.path().join(name)).ok()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- outcomes.jsonl\n{}",
            self.code,
            self.stdout,
            self.stderr,
            self.report("outcomes.jsonl").unwrap_or_default()
        )
    }
}

/// `harness run --lane cluster --context CONTEXT` of the seed scenario with `kubeconfig`, plus `extra_args`; killed
/// and failed if it runs past [`DEADLINE`].
fn run_harness(kubeconfig: &Path, context: &str, extra_args: &[&str]) -> Outcome {
    run_harness_signalled(kubeconfig, context, extra_args, None)
}

/// [`run_harness`], sending the process `signal` (e.g. `TERM`) once `after` has passed.
fn run_harness_signalled(
    kubeconfig: &Path,
    context: &str,
    extra_args: &[&str],
    signal: Option<(&str, Duration)>,
) -> Outcome {
    let out_dir = tempfile::tempdir().unwrap();
    // No kubeconfig of this machine's user may stand in for the test's: home is the kubeconfig's folder.
    let home = kubeconfig.parent().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env("USERPROFILE", home)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .args([
            "run",
            "--lane",
            "cluster",
            "--context",
            context,
            "scenarios/buildkit-6590.yaml",
            "--out",
        ])
        .arg(out_dir.path())
        .args(if extra_args.contains(&"--request-timeout") {
            &[][..]
        } else {
            &["--request-timeout", "2s"][..]
        })
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut signal = signal;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some((name, after)) = signal
            && started.elapsed() >= after
        {
            let sent = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(child.id().to_string())
                .status();
            assert!(sent.is_ok_and(|s| s.success()), "cannot send SIG{name}");
            signal = None;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("harness run did not finish within {}s", DEADLINE.as_secs());
        }
        thread::sleep(Duration::from_millis(50));
    };
    Outcome {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        out_dir,
    }
}

/// Reads `pipe` to its end on a thread of its own, so that the child never blocks on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn assert_nothing_mutated(server: &FakeApiServer) {
    let mutating: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|(method, _)| matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .collect();
    assert!(mutating.is_empty(), "the harness changed the cluster: {mutating:?}");
}

fn assert_no_request(server: &FakeApiServer) {
    let requests = server.requests();
    assert!(requests.is_empty(), "the harness reached the API server: {requests:?}");
}

fn assert_received(server: &FakeApiServer, method: &str, route: &str) {
    let requests = server.requests();
    assert!(
        requests.iter().any(|(m, path)| m == method && is(path, route)),
        "no {method} {route} among {requests:?}"
    );
}

fn assert_no_secret(outcome: &Outcome, secret: &str) {
    let shown = [
        ("stdout", Some(outcome.stdout.clone())),
        ("stderr", Some(outcome.stderr.clone())),
        ("outcomes.jsonl", outcome.report("outcomes.jsonl")),
        ("junit.xml", outcome.report("junit.xml")),
        ("summary.md", outcome.report("summary.md")),
        ("report.html", outcome.report("report.html")),
    ];
    for (name, text) in shown {
        assert!(
            !text.unwrap_or_default().contains(secret),
            "{name} shows the token\n{outcome}"
        );
    }
}

/// Exit 3, with an `infra-error` outcome recorded and a summary that does not call the run as expected.
fn assert_infra_error(outcome: &Outcome) {
    assert_eq!(outcome.code, Some(3), "\n{outcome}");
    let outcomes = outcome
        .report("outcomes.jsonl")
        .unwrap_or_else(|| panic!("no outcomes.jsonl\n{outcome}"));
    let infra = outcomes
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|o| o["verdict"] == "infra-error");
    assert!(infra, "no infra-error outcome\n{outcome}");
    let summary = outcome.report("summary.md").unwrap_or_default();
    assert!(
        !summary.contains("Every verdict is as expected"),
        "the summary calls the run as expected\n{outcome}"
    );
}

/// Exit 2 for the input itself, not because the command line above is one the harness does not know.
fn assert_refused(outcome: &Outcome) {
    assert_eq!(outcome.code, Some(2), "\n{outcome}");
    assert!(
        !outcome.stderr.contains("unexpected argument"),
        "the harness rejected the command line, not the input\n{outcome}"
    );
}

/// Runs the harness against a fake server behaving as `behaviour`, through `context`: the server, what the run did,
/// and the kubeconfig's token.
fn run_against(
    behaviour: impl Fn(&str, &str) -> Reply + Send + Sync + 'static,
    context: &str,
    extra_args: &[&str],
) -> (FakeApiServer, Outcome, String) {
    let server = FakeApiServer::start(behaviour);
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let outcome = run_harness(&kubeconfig(dir.path(), &server.url(), &token), context, extra_args);
    (server, outcome, token)
}

/// Runs against a fake server behaving as `behaviour` through context `k0s-windows` and checks: exit 3 with an
/// infra-error, nothing mutated, the token shown nowhere. The server, for further checks.
fn fails_as_infrastructure(behaviour: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> FakeApiServer {
    let (server, outcome, token) = run_against(behaviour, "k0s-windows", &[]);
    assert_infra_error(&outcome);
    assert_nothing_mutated(&server);
    assert_no_secret(&outcome, &token);
    server
}

#[test]
fn namespace_lookup_failing_is_an_infrastructure_error() {
    let server = fails_as_infrastructure(with_namespace(|| {
        status(500, "InternalError", "etcdserver: request timed out")
    }));
    assert_received(&server, "GET", NAMESPACE);
}

#[test]
fn namespace_lookup_forbidden_is_an_infrastructure_error() {
    let server = fails_as_infrastructure(with_namespace(|| {
        status(
            403,
            "Forbidden",
            "namespaces \"buildkit\" is forbidden: User \"tester\" cannot get resource",
        )
    }));
    assert_received(&server, "GET", NAMESPACE);
}

#[test]
fn namespace_of_another_run_is_left_alone() {
    let server = fails_as_infrastructure(with_namespace(|| {
        namespace(json!({ "app.kubernetes.io/managed-by": "harness", "harness/run-id": "someone-else" }))
    }));
    assert_received(&server, "GET", NAMESPACE);
}

#[test]
fn namespace_the_harness_did_not_make_is_left_alone() {
    let server = fails_as_infrastructure(with_namespace(|| {
        namespace(json!({ "kubernetes.io/metadata.name": "buildkit" }))
    }));
    assert_received(&server, "GET", NAMESPACE);
}

#[test]
fn stalled_api_server_times_out() {
    let started = Instant::now();
    let server = fails_as_infrastructure(|_, _| Reply::Stall);
    assert!(!server.requests().is_empty(), "the harness sent no request to stall");
    assert!(started.elapsed() < DEADLINE, "took {:?}", started.elapsed());
}

#[test]
fn node_list_failing_is_an_infrastructure_error() {
    let server = fails_as_infrastructure(|method, path| {
        if method == "GET" && is(path, NODES) {
            status(500, "InternalError", "etcdserver: leader changed")
        } else {
            cluster(method, path)
        }
    });
    assert_received(&server, "GET", NODES);
}

#[test]
fn no_api_server_listening_is_an_infrastructure_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let config = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"), &token);
    let outcome = run_harness(&config, "k0s-windows", &[]);
    assert_infra_error(&outcome);
    assert_no_secret(&outcome, &token);
}

#[test]
fn malformed_kubeconfig_is_an_infrastructure_error_and_keeps_its_token() {
    let server = FakeApiServer::start(cluster);
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let config = dir.path().join("kubeconfig");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {}
users:
- name: tester
  user:
    token: {token}
      - contexts: [{{name: k0s-windows, context: {{cluster: fake, user: tester}}
",
        server.url()
    );
    std::fs::write(&config, text).unwrap();
    let outcome = run_harness(&config, "k0s-windows", &[]);
    assert_infra_error(&outcome);
    assert_no_request(&server);
    assert_no_secret(&outcome, &token);
}

#[test]
fn missing_kubeconfig_is_an_infrastructure_error() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_harness(&dir.path().join("no-such-kubeconfig"), "k0s-windows", &[]);
    assert_infra_error(&outcome);
}

#[test]
fn context_the_scenario_does_not_allow_is_refused_before_connecting() {
    let (server, outcome, token) = run_against(cluster, "no-such-context", &[]);
    assert_refused(&outcome);
    assert_no_request(&server);
    assert_no_secret(&outcome, &token);
}

#[test]
fn testbed_context_on_a_cluster_that_is_not_the_test_bed_is_refused() {
    let (server, outcome, token) = run_against(cluster, "harness-testbed", &[]);
    assert_refused(&outcome);
    assert_nothing_mutated(&server);
    assert_no_secret(&outcome, &token);
}

#[test]
fn malformed_run_id_is_refused_before_connecting() {
    let server = FakeApiServer::start(cluster);
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let config = kubeconfig(dir.path(), &server.url(), &token);
    let outcome = run_harness(&config, "k0s-windows", &["--run-id", "Bad_ID/../x"]);
    assert_refused(&outcome);
    assert_no_request(&server);
    assert_no_secret(&outcome, &token);
}

/// The fake cluster that lets this run create its namespace (uid `…0003`), then stalls creating the DaemonSet; after
/// the namespace's deletion it lists no namespaces.
fn claimable(method: &str, path: &str) -> Reply {
    match method {
        "GET" if is(path, NAMESPACE) => {
            status(404, "NotFound", "namespaces \"harness-faults-term-00000000\" not found")
        }
        "POST" if is(path, "/api/v1/namespaces") => Reply::Json(
            201,
            json!({
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {
                    "name": "harness-faults-term-00000000",
                    "uid": "7c1f5a2e-0000-4000-8000-000000000003",
                    "resourceVersion": "3",
                    "labels": { "app.kubernetes.io/managed-by": "harness", "harness/run-id": "faults-term" },
                },
            }),
        ),
        "POST" => Reply::Stall,
        "DELETE" if is(path, NAMESPACE) => {
            Reply::Json(200, json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}))
        }
        "GET" if is(path, "/api/v1/namespaces") => Reply::Json(
            200,
            json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "4"}, "items": []}),
        ),
        _ => cluster(method, path),
    }
}

#[cfg(unix)]
#[test]
fn sigterm_while_stalled_exits_130_with_reports_and_changes_nothing() {
    let server = FakeApiServer::start(|_, _| Reply::Stall);
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let started = Instant::now();
    let outcome = run_harness_signalled(
        &kubeconfig(dir.path(), &server.url(), &token),
        "k0s-windows",
        &["--request-timeout", "30s"],
        Some(("TERM", Duration::from_millis(1500))),
    );
    assert_eq!(outcome.code, Some(130), "{outcome}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        outcome.report("outcomes.jsonl").is_some(),
        "no reports after SIGTERM\n{outcome}"
    );
    assert_nothing_mutated(&server);
    assert_no_secret(&outcome, &token);
}

#[cfg(unix)]
#[test]
fn sigterm_after_the_namespace_was_made_deletes_it_by_uid() {
    let server = FakeApiServer::start(claimable);
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let outcome = run_harness_signalled(
        &kubeconfig(dir.path(), &server.url(), &token),
        "k0s-windows",
        &["--run-id", "faults-term", "--request-timeout", "30s"],
        Some(("TERM", Duration::from_millis(2500))),
    );
    assert_eq!(outcome.code, Some(130), "{outcome}");
    let received = server.received();
    assert!(
        received
            .iter()
            .any(|(m, p, _)| m == "POST" && is(p, "/api/v1/namespaces")),
        "the run never created its namespace: {received:?}"
    );
    let deletes: Vec<&(String, String, String)> = received.iter().filter(|(m, _, _)| m == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{received:?}");
    let (_, path, body) = deletes[0];
    assert!(is(path, NAMESPACE), "{path}");
    assert!(
        body.contains("7c1f5a2e-0000-4000-8000-000000000003"),
        "deleted without its uid as a precondition: {body}"
    );
    assert_no_secret(&outcome, &token);
}

#[test]
fn an_api_server_that_goes_away_mid_run_is_an_infrastructure_error_naming_what_was_left() {
    let down = Arc::new(AtomicBool::new(false));
    let gone = down.clone();
    let server = FakeApiServer::start(move |method, path| {
        if gone.load(Ordering::SeqCst) {
            return status(503, "ServiceUnavailable", "the server is shutting down");
        }
        let reply = claimable(method, path);
        if method == "POST" && is(path, "/api/v1/namespaces") {
            gone.store(true, Ordering::SeqCst);
        }
        reply
    });
    let dir = tempfile::tempdir().unwrap();
    let token = secret();
    let outcome = run_harness(
        &kubeconfig(dir.path(), &server.url(), &token),
        "k0s-windows",
        &["--run-id", "faults-term"],
    );
    assert_infra_error(&outcome);
    assert!(down.load(Ordering::SeqCst), "the run never created its namespace");
    let teardown = outcome.report("outcomes.jsonl").unwrap_or_default();
    let teardown = teardown
        .lines()
        .find(|l| l.contains("\"step\":\"teardown\""))
        .unwrap_or_default();
    assert!(
        teardown.contains("infra-error") && teardown.contains("harness janitor"),
        "{teardown}"
    );
    assert_no_secret(&outcome, &token);
}

#[cfg(unix)]
#[test]
fn a_killed_run_keeps_every_outcome_it_saw() {
    let server = FakeApiServer::start(|_, _| Reply::Stall);
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_harness_signalled(
        &kubeconfig(dir.path(), &server.url(), &secret()),
        "k0s-windows",
        &["--lane", "offline", "--request-timeout", "30s"],
        Some(("KILL", Duration::from_millis(2000))),
    );
    assert_eq!(outcome.code, None, "the run was not killed: {outcome}");
    let jsonl = outcome.report("outcomes.jsonl").unwrap_or_default();
    let offline: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("whole lines only"))
        .filter(|o: &Value| o["lane"] == "offline")
        .collect();
    assert_eq!(
        offline.len(),
        2,
        "the offline outcomes seen before the kill are lost:\n{jsonl}"
    );
    assert_nothing_mutated(&server);
}
