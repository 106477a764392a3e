//! `report.html` in a real headless Chromium driven over WebDriver, and the size of a large report.
//!
//! The browser test needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`; or
//! `CHROMIUM` and `CHROMEDRIVER` naming them); without them it is reported as ignored with the reason, never passed.
//! Its screenshot goes to `$HARNESS_ARTIFACTS/report-screenshot.png`, else into Cargo's target folder.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use harness::outcome::{Evidence, Outcome, Verdict};
use harness::report::{HistoryStrip, StripRun};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::{Value, json};

const MAX_REPORT_BYTES: usize = 5 * 1024 * 1024;
const FIRST_ERROR: &str = "failed to mount <script>alert('x')</script> & \"more\": https://registry.example/v2/ denied";
const SKIP_REASON: &str = "not built yet";

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("size/20000-outcomes-under-5mb", a_large_report_stays_small),
        Trial::ignorable_test("browser/grid-details-history-screenshot", || match browser_tools() {
            Ok(tools) => in_the_browser(&tools).map(|()| Completion::Completed),
            Err(reason) => Ok(Completion::ignored_with(reason)),
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// An outcome from the few fields a test cares about; the rest as a real run writes them.
fn outcome(lane: &str, case: &str, step: &str, verdict: Verdict, evidence: Evidence, result: Value) -> Outcome {
    let mut fields = json!({
        "case": case,
        "scenario": "buildkit-6590",
        "lane": lane,
        "variant": case.rsplit('=').next().unwrap_or("reproduction"),
        "cell": {"buildkit": "v0.28.0"},
        "step": step,
        "expected": if verdict == Verdict::Reproduced { "bindflt-access-denied" } else { "ok" },
        "verdict": verdict,
        "evidence": evidence,
        "observed": {"containerd": "1.7.29", "windowsBuild": "20348.4773"},
        "durationMs": 1234,
    });
    let object = fields.as_object_mut().expect("an object");
    object.extend(result.as_object().expect("a result object").clone());
    serde_json::from_value(fields).expect("a valid outcome")
}

fn ok() -> Value {
    json!({"result": "ok"})
}

fn failed(line: &str) -> Value {
    json!({"result": "failed", "class": "bindflt-access-denied", "code": "0x80070005", "stage": "ApplyFileBinding",
        "first_error": line})
}

fn skipped(reason: &str) -> Value {
    json!({"result": "skipped", "reason": reason})
}

const REPRODUCTION: &str = "buildkit-6590/buildkit=v0.28.0/variant=reproduction";
const WORKAROUND: &str = "buildkit-6590/buildkit=v0.28.0/variant=workaround";

/// Real and simulated outcomes: a regressed cell with a first error, a skipped one, evidence files.
fn sample() -> Vec<Outcome> {
    let (real, simulated) = (Evidence::Real, Evidence::Simulated);
    let mut render = outcome("offline", REPRODUCTION, "render", Verdict::Passed, real, ok());
    render.detail = json!({"files": ["logs/render one.log"], "objects": ["Namespace/buildkit"]});
    vec![
        render,
        outcome("cluster", REPRODUCTION, "rollout", Verdict::Passed, real, ok()),
        outcome(
            "cluster",
            REPRODUCTION,
            "probe/bind-plain-dirs",
            Verdict::Regressed,
            real,
            failed(FIRST_ERROR),
        ),
        outcome(
            "cluster",
            REPRODUCTION,
            "build/hello",
            Verdict::Skipped,
            real,
            skipped(SKIP_REASON),
        ),
        outcome("cluster", WORKAROUND, "rollout", Verdict::Passed, real, ok()),
        outcome(
            "cluster",
            WORKAROUND,
            "probe/bind-plain-dirs",
            Verdict::Passed,
            real,
            ok(),
        ),
        outcome("cluster", REPRODUCTION, "rollout", Verdict::Passed, simulated, ok()),
        outcome(
            "cluster",
            REPRODUCTION,
            "probe/bind-plain-dirs",
            Verdict::Reproduced,
            simulated,
            failed("denied"),
        ),
        outcome("cluster", WORKAROUND, "service", Verdict::Observed, simulated, ok()),
    ]
}

fn history() -> Vec<HistoryStrip> {
    let run = |run: &str, started: &str, verdict| StripRun {
        run: run.into(),
        started: started.into(),
        verdict,
    };
    vec![HistoryStrip {
        case: REPRODUCTION.into(),
        lane: "cluster".into(),
        step: "probe/bind-plain-dirs".into(),
        runs: vec![
            run("nightly-3", "2025-06-03T02:00:00Z", Verdict::Passed),
            run("nightly-1", "2025-06-01T02:00:00Z", Verdict::Reproduced),
            run("nightly-2", "2025-06-02T02:00:00Z", Verdict::Reproduced),
        ],
    }]
}

fn a_large_report_stays_small() -> Result<(), Failed> {
    let verdicts = [
        (Verdict::Passed, ok()),
        (
            Verdict::Reproduced,
            failed(&format!(
                "{FIRST_ERROR} at C:\\ProgramData\\buildkitd\\root\\snapshots\\42"
            )),
        ),
        (
            Verdict::Skipped,
            skipped("the host lane needs an elevated Windows machine; this is linux"),
        ),
        (Verdict::Passed, ok()),
        (
            Verdict::Changed,
            failed("hcs::CreateComputeSystem: The virtual machine or container exited unexpectedly"),
        ),
    ];
    let outcomes: Vec<Outcome> = (0..20_000)
        .map(|i| {
            let (verdict, result) = &verdicts[i % verdicts.len()];
            let case = format!(
                "buildkit-6590/buildkit=v0.{}.0/variant=reproduction-{}",
                i / 1000,
                i / 10
            );
            let evidence = if i / 10 % 2 == 0 {
                Evidence::Real
            } else {
                Evidence::Simulated
            };
            outcome(
                "cluster",
                &case,
                &format!("probe/step-{}", i % 10),
                *verdict,
                evidence,
                result.clone(),
            )
        })
        .collect();
    let page = harness::report::html(&outcomes, None);
    eprintln!("report.html of {} outcomes: {} bytes", outcomes.len(), page.len());
    if page.len() >= MAX_REPORT_BYTES {
        return Err(format!("{} bytes, over {MAX_REPORT_BYTES}", page.len()).into());
    }
    Ok(())
}

/// Where the browser and its driver are.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn browser_tools() -> Result<Tools, String> {
    let find = |variable: &str, names: &[&str]| match std::env::var_os(variable) {
        Some(named) => Some(PathBuf::from(named)).filter(|path| path.is_file()),
        None => names.iter().find_map(|name| on_path(name)),
    };
    let chromium = find("CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find("CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Tools { chromium, chromedriver }),
        (None, _) => Err("chromium is not installed, or CHROMIUM names no file (apt-get install chromium)".into()),
        (_, None) => {
            Err("chromedriver is not installed, or CHROMEDRIVER names no file (apt-get install chromium-driver)".into())
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn in_the_browser(tools: &Tools) -> Result<(), Failed> {
    let outcomes = sample();
    let page = harness::report::html(&outcomes, Some(&history()));
    fetches_nothing(&page)?;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).map_err(|e| format!("writing {}: {e}", file.display()))?;

    let driver = Driver::start(tools, dir.path())?;
    driver.post("/url", json!({"url": format!("file://{}", file.display())}))?;
    grid_has_every_cell(&driver, &outcomes)?;
    simulated_cells_are_marked(&driver, &outcomes)?;
    first_error_shows_on_click(&driver)?;
    history_is_oldest_first(&driver)?;
    nothing_was_requested(&driver)?;
    save_screenshot(&driver)?;
    print_shows_every_detail(&driver)?;
    Ok(())
}

/// No resource the page could load, and no `http` outside the details of outcomes (text there, never fetched).
fn fetches_nothing(page: &str) -> Result<(), Failed> {
    for loader in [
        " src=", "<link", "@import", "url(", "<iframe", "<img", "<object", "<embed",
    ] {
        if page.contains(loader) {
            return Err(format!("the page has `{loader}`").into());
        }
    }
    let mut outside_details = String::new();
    for (i, part) in page.split("<dl>").enumerate() {
        outside_details.push_str(if i == 0 {
            part
        } else {
            part.split_once("</dl>").map_or("", |(_, rest)| rest)
        });
    }
    if outside_details.contains("://") || outside_details.contains("\"//") {
        return Err("a URL outside the outcomes' details".into());
    }
    if !page.contains("https://") {
        return Err("the sample's first error names an https URL, so the page should show it".into());
    }
    Ok(())
}

fn grid_has_every_cell(driver: &Driver, outcomes: &[Outcome]) -> Result<(), Failed> {
    let cells = driver.script(
        "const caseOf = th => [...th.childNodes].filter(n => n.nodeName !== 'SMALL').map(n => n.textContent).join('');
         return [...document.querySelectorAll('section')].flatMap(section =>
           [...section.querySelectorAll('table.grid')].flatMap(table => {
             const steps = [...table.tHead.rows[0].cells].slice(1).map(th => th.textContent);
             return [...table.tBodies[0].rows].flatMap(row => [...row.cells].slice(1).map((td, i) =>
               [section.id, table.dataset.lane, caseOf(row.cells[0]), steps[i], td.className]));
           }))
         .filter(cell => cell[4] !== 'none');",
    )?;
    let mut shown: Vec<String> = cells
        .as_array()
        .ok_or("the grid script returned no array")?
        .iter()
        .map(|cell| cell.to_string())
        .collect();
    let mut expected: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let (section, class) = match o.evidence {
                Evidence::Real => ("real", o.verdict.as_str().to_owned()),
                Evidence::Simulated => ("simulated", format!("{} simulated", o.verdict.as_str())),
            };
            json!([section, o.lane.as_str(), o.case, o.step, class]).to_string()
        })
        .collect();
    shown.sort();
    expected.sort();
    if shown != expected {
        return Err(format!("the grid shows\n{shown:#?}\nexpected\n{expected:#?}").into());
    }
    Ok(())
}

fn simulated_cells_are_marked(driver: &Driver, outcomes: &[Outcome]) -> Result<(), Failed> {
    let counts = driver.script(
        "const marked = s => [...document.querySelectorAll(s)].filter(e => e.innerText.trim() === 'simulated').length;
         return [document.querySelectorAll('#simulated td:not(.none)').length,
                 marked('#simulated td:not(.none) summary .sim'), document.querySelectorAll('#real .sim').length];",
    )?;
    let simulated = outcomes.iter().filter(|o| o.evidence == Evidence::Simulated).count();
    if counts != json!([simulated, simulated, 0]) {
        return Err(
            format!("simulated cells, marked ones, marks among real ones: {counts}; {simulated} simulated").into(),
        );
    }
    Ok(())
}

fn first_error_shows_on_click(driver: &Driver) -> Result<(), Failed> {
    let cell = "#real table[data-lane=cluster] td.regressed";
    let summary = driver.element(&format!("{cell} summary"))?;
    let first_error = driver.element(&format!("{cell} dd.err"))?;
    if driver.displayed(&first_error)? {
        return Err("the first error shows before the cell is clicked".into());
    }
    driver.post(&format!("/element/{summary}/click"), json!({}))?;
    if !driver.displayed(&first_error)? {
        return Err("the first error does not show after a click on its cell".into());
    }
    let text = driver.get(&format!("/element/{first_error}/text"))?;
    if text != json!(FIRST_ERROR) {
        return Err(format!("the first error reads {text}, not {FIRST_ERROR:?}").into());
    }
    let injected = driver.script("return document.querySelectorAll('script').length;")?;
    if injected != json!(1) {
        return Err(format!("{injected} script elements: outcome text became markup").into());
    }
    Ok(())
}

fn history_is_oldest_first(driver: &Driver) -> Result<(), Failed> {
    let titles = driver.script(
        "return [...document.querySelectorAll('#real table[data-lane=cluster] td.regressed .strip i')]
           .map(i => i.title);",
    )?;
    let expected = json!([
        "nightly-1 2025-06-01T02:00:00Z: reproduced",
        "nightly-2 2025-06-02T02:00:00Z: reproduced",
        "nightly-3 2025-06-03T02:00:00Z: passed",
    ]);
    if titles != expected {
        return Err(format!("the history strip is {titles}, not {expected}").into());
    }
    Ok(())
}

fn nothing_was_requested(driver: &Driver) -> Result<(), Failed> {
    let requested = driver.script("return performance.getEntriesByType('resource').map(e => e.name);")?;
    if requested != json!([]) {
        return Err(format!("the page requested {requested}").into());
    }
    Ok(())
}

/// In print (emulated through Chromium's DevTools protocol) every cell's details show, clicked or not.
fn print_shows_every_detail(driver: &Driver) -> Result<(), Failed> {
    driver.post(
        "/goog/cdp/execute",
        json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": "print"}}),
    )?;
    let hidden =
        driver.script("return [...document.querySelectorAll('td dl')].filter(dl => !dl.checkVisibility()).length;")?;
    if hidden != json!(0) {
        return Err(format!("{hidden} cell details stay hidden in print").into());
    }
    Ok(())
}

fn save_screenshot(driver: &Driver) -> Result<(), Failed> {
    let encoded = driver.get("/screenshot")?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_str().ok_or("the screenshot is not a string")?)
        .map_err(|e| format!("the screenshot is not base64: {e}"))?;
    if !png.starts_with(b"\x89PNG") {
        return Err("the screenshot is not a PNG".into());
    }
    let dir = artifacts();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("report-screenshot.png");
    std::fs::write(&path, png).map_err(|e| format!("writing {}: {e}", path.display()))?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// `$HARNESS_ARTIFACTS`, else Cargo's target folder.
fn artifacts() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent");
    std::env::var_os("HARNESS_ARTIFACTS")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .map(|dir| if dir.is_relative() { workspace.join(dir) } else { dir })
        .unwrap_or_else(|| workspace.join("target"))
}

/// A chromedriver of this test's own, and one headless browser session in it; both end when this is dropped.
struct Driver {
    process: Child,
    port: u16,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    fn start(tools: &Tools, scratch: &Path) -> Result<Driver, Failed> {
        let port = free_port()?;
        let process = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", tools.chromedriver.display()))?;
        let mut driver = Driver {
            process,
            port,
            session: String::new(),
        };
        driver.wait_until_ready()?;
        let profile = scratch.join("profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": tools.chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.display())],
            },
        }}});
        let session = http(port, "POST", "/session", Some(&capabilities))?;
        driver.session = session["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {session}"))?
            .to_owned();
        Ok(driver)
    }

    fn wait_until_ready(&mut self) -> Result<(), Failed> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(status) = http(self.port, "GET", "/status", None)
                && status["ready"] == json!(true)
            {
                return Ok(());
            }
            if let Ok(Some(exit)) = self.process.try_wait() {
                return Err(format!("chromedriver exited: {exit}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("chromedriver was not ready within 20 s".into())
    }

    fn get(&self, path: &str) -> Result<Value, Failed> {
        http(self.port, "GET", &format!("/session/{}{path}", self.session), None)
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, Failed> {
        http(
            self.port,
            "POST",
            &format!("/session/{}{path}", self.session),
            Some(&body),
        )
    }

    fn script(&self, script: &str) -> Result<Value, Failed> {
        self.post("/execute/sync", json!({"script": script, "args": []}))
    }

    /// The id of the element `selector` finds first.
    fn element(&self, selector: &str) -> Result<String, Failed> {
        let found = self.post("/element", json!({"using": "css selector", "value": selector}))?;
        found[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {selector}: {found}").into())
    }

    fn displayed(&self, element: &str) -> Result<bool, Failed> {
        Ok(self.get(&format!("/element/{element}/displayed"))? == json!(true))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> Result<u16, Failed> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?
        .port())
}

/// One WebDriver request to 127.0.0.1:`port`: the response's `value`, or its error as the failure.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failed> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("{method} {path}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let response = read_response(&mut stream).map_err(|e| format!("{method} {path}: {e}"))?;
    let (status, payload) = parse_response(&response).ok_or_else(|| format!("{method} {path}: not HTTP"))?;
    let value: Value = serde_json::from_slice(&payload).map_err(|e| format!("{method} {path}: not JSON: {e}"))?;
    if status >= 400 {
        return Err(format!("{method} {path}: {status} {}", value["value"]).into());
    }
    Ok(value["value"].clone())
}

/// A whole response: up to its `Content-Length` where it has one (chromedriver may keep the connection open), else to
/// the end of the stream.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(response);
        }
        response.extend_from_slice(&buffer[..read]);
        if let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n")
            && let Some(length) = content_length(&response[..split])
            && response.len() >= split + 4 + length
        {
            return Ok(response);
        }
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// The status code and body of an HTTP/1.1 response (chunked or not).
fn parse_response(response: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..split]).ok()?;
    let body = &response[split + 4..];
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head
        .lines()
        .any(|line| line.to_ascii_lowercase().starts_with("transfer-encoding:") && line.contains("chunked"));
    Some((status, if chunked { dechunk(body)? } else { body.to_vec() }))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..line_end]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = line_end + 2;
        out.extend_from_slice(body.get(start..start + size)?);
        body = body.get(start + size + 2..)?;
    }
}
