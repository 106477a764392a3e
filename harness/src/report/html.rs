//! `report.html`: one self-contained page, a grid of cases x steps coloured by verdict, real and simulated apart.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use indexmap::{IndexMap, IndexSet};

use crate::outcome::{Evidence, Outcome, StepResult, Verdict};
use crate::words::Environment;

/// The verdicts of earlier runs of one cell (case x lane x step), for the strip drawn under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStrip {
    pub case: String,
    pub lane: String,
    pub step: String,
    /// One per run; drawn oldest first (by `started`, an RFC 3339 time).
    pub runs: Vec<StripRun>,
}

/// One earlier run of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripRun {
    pub run: String,
    pub started: String,
    pub verdict: Verdict,
}

/// Keys of an outcome's `detail` whose string values (or arrays of strings) name evidence files.
const FILE_KEYS: [&str; 5] = ["file", "files", "log", "logs", "evidence"];

const STYLE: &str = "\
:root{font:14px/1.4 system-ui,sans-serif;color:#111;background:#fff}\
body{margin:1rem auto;max-width:1248px;padding:0 16px}\
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.4rem 0 .3rem;border-bottom:2px solid #333}\
h3{font-size:1rem;margin:1rem 0 .3rem}\
.alert{font-weight:bold;border-left:4px solid #b00;padding-left:.5rem}\
.legend{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;list-style:none;padding:0;margin:.6rem 0}\
.key{display:inline-block;min-width:1.4em;text-align:center;border:1px solid #555;padding:0 .2em}\
.grid{border-collapse:collapse}\
.grid th,.grid td{border:1px solid #999;padding:2px 4px;vertical-align:top}\
.grid thead th{font-weight:600;text-align:left;font-size:.85rem;max-width:10rem;overflow-wrap:anywhere}\
.grid tbody th{text-align:left;font-weight:normal;font-family:ui-monospace,monospace;font-size:.8rem;\
max-width:24rem;overflow-wrap:anywhere}\
.grid td{position:relative;min-width:2.6rem;text-align:center}\
summary{cursor:pointer;list-style:none;font-size:1.1rem;font-weight:bold}\
summary::-webkit-details-marker{display:none}\
details[open]>summary{outline:2px solid #000}\
details>dl{position:absolute;z-index:2;left:0;top:100%;width:28rem;margin:0;padding:.4rem .6rem;text-align:left;\
background:#fff;border:1px solid #000;box-shadow:2px 2px 6px #0006;display:grid;grid-template-columns:auto 1fr;\
gap:0 .6rem;font-size:.85rem}\
dl::before,dl::after{grid-column:1/-1;font-weight:700}dl::after{font-style:italic}\
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
dd.err,dd.reason{font-family:ui-monospace,monospace;white-space:pre-wrap}\
.grid tbody th small{display:block;font-family:system-ui,sans-serif;color:#444}\
.sim,.key.sim{display:block;font:italic .65rem/1 system-ui,sans-serif;border:1px dashed #000;padding:1px 2px;\
margin-top:1px}\
.key.sim{display:inline-block}\
td.simulated{background-image:repeating-linear-gradient(135deg,#0000 0 6px,#fff8 6px 9px)}\
.strip{display:flex;gap:1px;justify-content:center;margin-top:2px}\
.strip i{display:block;width:9px;height:9px;font:normal 7px/9px sans-serif;text-align:center;border:1px solid #555}\
td.none{background:#f4f4f4}\
.reproduced{background:#f2b8a8}.passed{background:#a9dcae}.no-longer-reproduces{background:#9ec5f4}\
.regressed{background:#e0413a;color:#fff}.changed{background:#f4c542}.observed{background:#d6d6f0}\
.skipped{background:#e6e6e6;color:#333}.infra-error{background:#7a2f8f;color:#fff}\
dl,.key.sim{color:#111}\
@media print{:root{font-size:9pt}body{max-width:none;margin:0}*{print-color-adjust:exact;\
-webkit-print-color-adjust:exact}\
details::details-content{content-visibility:visible;display:block}\
details>dl{position:static;width:auto;max-width:28rem;box-shadow:none;border:0;border-top:1px solid #999;padding:2px 0}\
details[open]>summary{outline:0}tr,td{break-inside:avoid}script{display:none}}\
";

/// Opens every `<details>` for printing where CSS cannot, and closes them again afterwards.
const PRINT_SCRIPT: &str = "let shut=[];\
addEventListener('beforeprint',()=>{shut=[...document.querySelectorAll('details:not([open])')];\
shut.forEach(d=>d.open=true)});\
addEventListener('afterprint',()=>shut.forEach(d=>d.open=false));";

/// The whole page for `outcomes`, with a history strip under each cell that `history` has one for.
pub fn render(outcomes: &[Outcome], history: Option<&[HistoryStrip]>) -> String {
    let strips = strips_by_cell(history.unwrap_or_default());
    let mut page = String::with_capacity(1024 + outcomes.len() * 256);
    page.push_str(&head());
    page.push_str(&headline(outcomes));
    page.push_str(&legend());
    for (evidence, id, title) in [
        (Evidence::Real, "real", "Real results"),
        (
            Evidence::Simulated,
            "simulated",
            "Simulated results (test doubles; not evidence about Windows)",
        ),
    ] {
        let shown: Vec<&Outcome> = outcomes.iter().filter(|o| o.evidence == evidence).collect();
        if !shown.is_empty() {
            section(&mut page, id, title, &shown, &strips);
        }
    }
    if outcomes.is_empty() {
        page.push_str("<p>No outcomes.</p>\n");
    }
    page.push_str("<script>");
    page.push_str(PRINT_SCRIPT);
    page.push_str("</script>\n</body></html>\n");
    page
}

/// `text` safe anywhere in HTML text or a quoted attribute: `& < > " '` as entities, and what a terminal would not
/// print (controls, bidi overrides) as `\u{..}` escapes.
fn escape(text: &str) -> Cow<'_, str> {
    let printable = crate::redact::printable(text);
    if !printable.contains(['&', '<', '>', '"', '\'']) {
        return printable;
    }
    let mut out = String::with_capacity(printable.len() + 16);
    for c in printable.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The symbol a verdict shows in the grid, legible without colour.
fn symbol(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproduced => "●",
        Verdict::Passed => "✓",
        Verdict::NoLongerReproduces => "○",
        Verdict::Regressed => "✗",
        Verdict::Changed => "≠",
        Verdict::Observed => "*",
        Verdict::Skipped => "–",
        Verdict::InfraError => "⚠",
    }
}

fn meaning(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproduced => "failed as the bug report says",
        Verdict::Passed => "succeeded as expected",
        Verdict::NoLongerReproduces => "the bug's step now succeeds",
        Verdict::Regressed => "an expected success now fails",
        Verdict::Changed => "failed, differently from the bug report",
        Verdict::Observed => "recorded without judging",
        Verdict::Skipped => "did not run (reason in the cell)",
        Verdict::InfraError => "the harness could not run the step",
    }
}

type CellKey<'a> = (&'a str, &'a str, &'a str);

fn strips_by_cell(history: &[HistoryStrip]) -> HashMap<CellKey<'_>, &HistoryStrip> {
    history
        .iter()
        .map(|s| ((s.case.as_str(), s.lane.as_str(), s.step.as_str()), s))
        .collect()
}

/// Each cell's verdict in words atop its details (from CSS, so a report of many cells stays small).
fn verdict_style() -> String {
    let mut style: String = Verdict::ALL
        .iter()
        .map(|&v| {
            format!(
                "td.{name} dl::before,td details.{name} dl::before{{content:\"{} {name}\"}}",
                symbol(v),
                name = v.as_str()
            )
        })
        .collect();
    style.push_str("td.simulated dl::after{content:\"simulated: a test double's result\"}");
    style
}

fn head() -> String {
    format!(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'\">\
<title>Harness run</title><style>{STYLE}{}</style></head><body>\n<h1>Harness run</h1>\n",
        verdict_style()
    )
}

/// What the run means in one line, as `summary.md` says it, and the count of each verdict.
fn headline(outcomes: &[Outcome]) -> String {
    let infra = outcomes.iter().filter(|o| o.verdict == Verdict::InfraError).count();
    let differing = outcomes.iter().filter(|o| o.verdict.differs()).count();
    let mut out = String::new();
    if infra > 0 {
        let _ = writeln!(
            out,
            "<p class=alert>{infra} step(s) could not be observed (infrastructure error): this run is not evidence \
either way.</p>"
        );
    }
    if let Some(line) = super::summary::differing_line(outcomes) {
        let _ = writeln!(out, "<p class=alert>{line}.</p>");
    }
    if infra == 0 && differing == 0 && !outcomes.is_empty() {
        out.push_str("<p>Every verdict is as expected.</p>\n");
    }
    out
}

fn legend() -> String {
    let mut out = String::from("<ul class=legend>");
    for verdict in Verdict::ALL {
        let _ = write!(
            out,
            "<li><span class=\"key {name}\">{symbol}</span> <b>{name}</b>: {meaning}</li>",
            name = verdict.as_str(),
            symbol = symbol(verdict),
            meaning = meaning(verdict)
        );
    }
    out.push_str(
        "<li><span class=\"key sim\">simulated</span> a test double's result, never evidence about Windows</li>\
<li>Click a cell for its details.</li></ul>\n",
    );
    out
}

/// One kind of evidence: its totals and a grid per lane.
fn section(page: &mut String, id: &str, title: &str, outcomes: &[&Outcome], strips: &HashMap<CellKey, &HistoryStrip>) {
    let _ = write!(
        page,
        "<section id={id}><h2>{title}</h2>\n<p class=totals>{}</p>\n",
        totals(outcomes)
    );
    let mut lanes: IndexMap<&str, Vec<&Outcome>> = IndexMap::new();
    for o in outcomes {
        lanes.entry(o.lane.as_str()).or_default().push(o);
    }
    for (lane, in_lane) in &lanes {
        grid(page, lane, in_lane, strips);
    }
    page.push_str("</section>\n");
}

fn totals(outcomes: &[&Outcome]) -> String {
    let counts: Vec<String> = Verdict::ALL
        .iter()
        .filter_map(|&verdict| {
            let count = outcomes.iter().filter(|o| o.verdict == verdict).count();
            (count > 0).then(|| format!("{count} {} {}", symbol(verdict), verdict.as_str()))
        })
        .collect();
    format!("{} outcome(s): {}", outcomes.len(), counts.join(", "))
}

/// The table of one lane: a row per case, a column per step, in the order they first appear.
fn grid(page: &mut String, lane: &str, outcomes: &[&Outcome], strips: &HashMap<CellKey, &HistoryStrip>) {
    let steps: IndexSet<&str> = outcomes.iter().map(|o| o.step.as_str()).collect();
    let mut rows: IndexMap<&str, Vec<&Outcome>> = IndexMap::new();
    for o in outcomes {
        rows.entry(o.case.as_str()).or_default().push(o);
    }
    let _ = write!(
        page,
        "<h3>{lane} lane</h3>\n<table class=grid data-lane={lane}><thead><tr><th>case",
        lane = escape(lane)
    );
    for step in &steps {
        let _ = write!(page, "<th>{}", escape(step));
    }
    page.push_str("</thead><tbody>\n");
    for (case, in_row) in &rows {
        row(page, (lane, case), in_row, &steps, strips);
    }
    page.push_str("</tbody></table>\n");
}

/// One case of a lane: its name, the versions its steps share, and a cell per step.
fn row(
    page: &mut String,
    (lane, case): (&str, &str),
    outcomes: &[&Outcome],
    steps: &IndexSet<&str>,
    strips: &HashMap<CellKey, &HistoryStrip>,
) {
    let shared = shared_versions(outcomes.iter().copied());
    let _ = write!(page, "<tr><th scope=row>{}", breakable(&escape(case)));
    if let Some(versions) = &shared {
        let _ = write!(page, "<small>{}</small>", escape(versions));
    }
    let mut by_step: IndexMap<&str, Vec<&Outcome>> = IndexMap::new();
    for o in outcomes {
        by_step.entry(o.step.as_str()).or_default().push(o);
    }
    for step in steps {
        let strip = strips.get(&(case, lane, *step)).copied();
        match by_step.get(step) {
            Some(in_cell) => cell(page, in_cell, shared.as_deref(), strip),
            None => empty_cell(page, strip),
        }
    }
    page.push('\n');
}

/// The versions most outcomes of a row observed: shown once beside the case, and in a cell only where they differ.
fn shared_versions<'a>(row: impl Iterator<Item = &'a Outcome>) -> Option<String> {
    let mut counted: Vec<(String, usize)> = Vec::new();
    for versions in row.filter_map(|o| versions(&o.observed)) {
        match counted.iter_mut().find(|(seen, _)| *seen == versions) {
            Some((_, count)) => *count += 1,
            None => counted.push((versions, 1)),
        }
    }
    let most = counted.iter().map(|(_, count)| *count).max()?;
    counted
        .into_iter()
        .find(|(_, count)| *count == most)
        .map(|(versions, _)| versions)
}

/// A case name that wraps after each `/` rather than inside a word.
fn breakable(name: &str) -> String {
    name.replace('/', "/<wbr>")
}

fn empty_cell(page: &mut String, strip: Option<&HistoryStrip>) {
    page.push_str("<td class=none>");
    if let Some(strip) = strip {
        history_strip(page, strip);
    }
}

/// A cell, coloured by its (first) outcome's verdict, with its history; an outcome's versions only where they are
/// not the row's. Outcomes of one case and step more than once each keep their own details in the one cell.
fn cell(page: &mut String, outcomes: &[&Outcome], row_versions: Option<&str>, strip: Option<&HistoryStrip>) {
    let Some(first) = outcomes.first() else {
        return empty_cell(page, strip);
    };
    let verdict = first.verdict.as_str();
    if first.evidence == Evidence::Simulated {
        let _ = write!(page, "<td class=\"{verdict} simulated\">");
    } else {
        let _ = write!(page, "<td class={verdict}>");
    }
    for (i, o) in outcomes.iter().enumerate() {
        details(page, o, row_versions, i > 0);
    }
    if let Some(strip) = strip {
        history_strip(page, strip);
    }
}

/// One outcome: its symbol (and `simulated`), and its facts on click; `own_colour` where it is not the cell's.
fn details(page: &mut String, o: &Outcome, row_versions: Option<&str>, own_colour: bool) {
    if own_colour {
        let _ = write!(page, "<details class={}>", o.verdict.as_str());
    } else {
        page.push_str("<details>");
    }
    let _ = write!(page, "<summary>{}", symbol(o.verdict));
    if o.evidence == Evidence::Simulated {
        page.push_str("<i class=sim>simulated</i>");
    }
    page.push_str("</summary><dl>");
    facts(page, o, row_versions);
    page.push_str("</dl></details>");
}

/// The details of an outcome, each only where it has one.
fn facts(page: &mut String, o: &Outcome, row_versions: Option<&str>) {
    let mut fact = |name: &str, class: &str, value: &str| {
        let _ = write!(page, "<dt>{name}<dd{class}>{}", escape(value));
    };
    match &o.result {
        StepResult::Ok if o.verdict == Verdict::Observed => fact("result", "", "ok"),
        StepResult::Ok => {}
        StepResult::Failed {
            class,
            code,
            stage,
            first_error,
        } => {
            fact("class", "", class.as_str());
            if let Some(code) = code {
                fact("code", "", code);
            }
            if let Some(stage) = stage {
                fact("stage", "", stage);
            }
            if let Some(line) = first_error {
                fact("first error", " class=err", line);
            }
        }
        StepResult::Skipped { reason } => fact("reason", " class=reason", reason),
    }
    if !expectation_implied(o.verdict) {
        fact("expected", "", o.expected.as_deref().unwrap_or("nothing"));
    }
    if let Some(tries) = &o.tries {
        fact("tries", "", &tries.to_string());
    }
    if !o.stages.is_empty() {
        let stages: Vec<String> = o.stages.iter().map(|(name, r)| format!("{name} {r}")).collect();
        fact("stages", "", &stages.join(" · "));
    }
    if let Some(versions) = versions(&o.observed).filter(|v| Some(v.as_str()) != row_versions) {
        fact("versions", "", &versions);
    }
    if let Some(ms) = o.duration_ms {
        fact("duration", "", &duration(ms));
    }
    evidence_files(page, &o.detail);
}

/// Whether the verdict says what was expected: `ok` for passed and regressed, the observed class for reproduced.
fn expectation_implied(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Passed | Verdict::Regressed | Verdict::Reproduced)
}

/// The observed versions, `containerd 1.7.29 · windowsBuild 20348.4773`; none when nothing was observed.
fn versions(observed: &Environment) -> Option<String> {
    let parts: Vec<String> = observed.versions().iter().map(|(c, v)| format!("{c} {v}")).collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Links to the files an outcome's detail names (relative paths only; anything else is shown as text).
fn evidence_files(page: &mut String, detail: &serde_json::Value) {
    let files = named_files(detail);
    if files.is_empty() {
        return;
    }
    page.push_str("<dt>evidence<dd class=files>");
    for file in files {
        match relative_href(file) {
            Some(href) => {
                let _ = write!(page, "<a href=\"{}\">{}</a> ", escape(&href), escape(file));
            }
            None => {
                let _ = write!(page, "<code>{}</code> ", escape(file));
            }
        }
    }
}

fn named_files(detail: &serde_json::Value) -> Vec<&str> {
    let Some(object) = detail.as_object() else {
        return Vec::new();
    };
    FILE_KEYS
        .iter()
        .filter_map(|key| object.get(*key))
        .flat_map(|value| match value {
            serde_json::Value::String(file) => vec![file.as_str()],
            serde_json::Value::Array(items) => items.iter().filter_map(serde_json::Value::as_str).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// A relative link to `path`, percent-encoded; none for an absolute path, a URL or anything with a scheme.
fn relative_href(path: &str) -> Option<String> {
    let absolute = path.starts_with(['/', '\\']) || path.contains(':') || path.is_empty();
    if absolute {
        return None;
    }
    let mut href = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => href.push(byte as char),
            b'\\' => href.push('/'),
            _ => {
                let _ = write!(href, "%{byte:02X}");
            }
        }
    }
    Some(href)
}

/// A row of small squares, one per earlier run, oldest first, each titled with its run id and date.
fn history_strip(page: &mut String, strip: &HistoryStrip) {
    let mut runs: Vec<&StripRun> = strip.runs.iter().collect();
    runs.sort_by(|a, b| a.started.cmp(&b.started));
    page.push_str("<div class=strip>");
    for run in runs {
        let _ = write!(
            page,
            "<i class={verdict} title=\"{run} {started}: {verdict}\">{symbol}</i>",
            verdict = run.verdict.as_str(),
            run = escape(&run.run),
            started = escape(&run.started),
            symbol = symbol(run.verdict)
        );
    }
    page.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Class;

    fn outcome(step: &str, result: StepResult, verdict: Verdict, evidence: Evidence) -> Outcome {
        let mut outcome: Outcome = serde_json::from_value(serde_json::json!({
            "case": "bug/buildkit=v1/variant=reproduction",
            "scenario": "bug",
            "lane": "cluster",
            "variant": "reproduction",
            "cell": {"buildkit": "v1"},
            "step": step,
            "result": "ok",
            "expected": "bindflt-access-denied",
            "verdict": "passed",
            "evidence": "real",
            "observed": {"containerd": "1.7.29"},
            "durationMs": 1500,
        }))
        .expect("a valid outcome");
        outcome.result = result;
        outcome.verdict = verdict;
        outcome.evidence = evidence;
        outcome
    }

    fn failed(first_error: &str) -> StepResult {
        StepResult::Failed {
            class: Class::BindfltAccessDenied,
            code: Some("0x80070005".into()),
            stage: Some("ApplyFileBinding".into()),
            first_error: Some(first_error.into()),
        }
    }

    #[test]
    fn escape_covers_markup_quotes_and_ampersands() {
        assert_eq!(
            escape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("a \"b\" & c"), "a &quot;b&quot; &amp; c");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert!(matches!(escape("plain text"), Cow::Borrowed("plain text")));
        assert_eq!(escape("a\u{202e}b\u{0}"), "a\\u{202e}b\\u{0}");
    }

    #[test]
    fn outcome_text_is_escaped() {
        let hostile = "<script>alert(\"pwn\")</script> & 'more'";
        let mut o = outcome("probe/x", failed(hostile), Verdict::Changed, Evidence::Real);
        o.case = "<img src=x onerror=alert(1)>".into();
        let page = render(&[o], None);
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img"));
        assert!(page.contains("&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt; &amp; &#39;more&#39;"));
        assert_eq!(page.matches("<script>").count(), 1, "only the page's own print script");
    }

    #[test]
    fn real_and_simulated_are_apart_and_every_simulated_cell_is_marked() {
        let outcomes = [
            outcome("rollout", StepResult::Ok, Verdict::Passed, Evidence::Real),
            outcome("rollout", StepResult::Ok, Verdict::Passed, Evidence::Simulated),
            outcome("probe/x", failed("denied"), Verdict::Reproduced, Evidence::Simulated),
        ];
        let page = render(&outcomes, None);
        let real = page.find("<section id=real>").expect("a real section");
        let simulated = page.find("<section id=simulated>").expect("a simulated section");
        assert!(real < simulated);
        let simulated_part = &page[simulated..];
        assert_eq!(simulated_part.matches("<i class=sim>simulated</i>").count(), 2);
        assert!(!page[real..simulated].contains("class=sim>"));
    }

    #[test]
    fn verdicts_that_differ_on_a_simulated_node_only_are_said_so() {
        let regressed = |evidence| outcome("probe/x", failed("denied"), Verdict::Regressed, evidence);
        let simulated = [regressed(Evidence::Simulated)];
        assert!(render(&simulated, None).contains(
            "1 verdict(s) differ from the scenario's expectations, all on a simulated node: not evidence about Windows."
        ));
        let both = [regressed(Evidence::Real), regressed(Evidence::Simulated)];
        let md = super::super::summary::markdown(&both);
        assert!(md.contains(
            "**2 verdict(s) differ from the scenario's expectations, 1 of them on a simulated node: not evidence about Windows.**"
        ), "{md}");
        let real = [regressed(Evidence::Real)];
        assert!(
            super::super::summary::markdown(&real)
                .contains("**1 verdict(s) differ from the scenario's expectations.**")
        );
    }

    #[test]
    fn details_carry_every_fact() {
        let mut o = outcome("probe/x", failed("access is denied"), Verdict::Changed, Evidence::Real);
        o.expected = Some("layer-in-use".into());
        o.detail = serde_json::json!({
            "files": ["logs/buildkitd.log", "/etc/passwd", "javascript:alert(1)"],
            "log": "a b#c.txt",
        });
        let page = render(&[o], None);
        for fact in [
            "<dt>class<dd>bindflt-access-denied",
            "<dt>code<dd>0x80070005",
            "<dt>stage<dd>ApplyFileBinding",
            "<dt>first error<dd class=err>access is denied",
            "<dt>expected<dd>layer-in-use",
            "<dt>duration<dd>1.5 s",
            "<a href=\"logs/buildkitd.log\">logs/buildkitd.log</a>",
            "<a href=\"a%20b%23c.txt\">a b#c.txt</a>",
            "<code>/etc/passwd</code>",
            "<code>javascript:alert(1)</code>",
        ] {
            assert!(page.contains(fact), "{fact} missing");
        }
        let skipped = outcome(
            "build/x",
            StepResult::Skipped {
                reason: "not built yet".into(),
            },
            Verdict::Skipped,
            Evidence::Real,
        );
        assert!(render(&[skipped], None).contains("<dt>reason<dd class=reason>not built yet"));
        let reproduced = outcome("probe/x", failed("denied"), Verdict::Reproduced, Evidence::Real);
        assert!(
            !render(&[reproduced], None).contains("<dt>expected"),
            "a reproduction's expectation is its class"
        );
    }

    #[test]
    fn versions_a_row_shares_show_once_and_others_in_their_cell() {
        let mut outcomes = [
            outcome("rollout", StepResult::Ok, Verdict::Passed, Evidence::Real),
            outcome("service", StepResult::Ok, Verdict::Passed, Evidence::Real),
            outcome("teardown", StepResult::Ok, Verdict::Passed, Evidence::Real),
        ];
        outcomes[2].observed.containerd = Some("2.3.3".into());
        let page = render(&outcomes, None);
        assert_eq!(page.matches("<small>containerd 1.7.29</small>").count(), 1);
        assert!(!page.contains("<dd>containerd 1.7.29"));
        assert_eq!(page.matches("<dt>versions<dd>containerd 2.3.3").count(), 1);
    }

    #[test]
    fn one_cell_per_case_and_step_even_when_a_step_is_seen_twice() {
        let outcomes = [
            outcome("rollout", StepResult::Ok, Verdict::Passed, Evidence::Real),
            outcome("rollout", failed("again"), Verdict::Regressed, Evidence::Real),
            outcome("service", StepResult::Ok, Verdict::Passed, Evidence::Real),
        ];
        let page = render(&outcomes, None);
        assert_eq!(page.matches("<td").count(), 2);
        assert_eq!(page.matches("<details").count(), 3);
        assert!(page.contains("<td class=passed><details><summary>✓"));
        assert!(page.contains("<details class=regressed><summary>✗"));
    }

    #[test]
    fn history_strips_are_oldest_first_with_run_and_date() {
        let o = outcome("rollout", StepResult::Ok, Verdict::Passed, Evidence::Real);
        let run = |run: &str, started: &str, verdict| StripRun {
            run: run.into(),
            started: started.into(),
            verdict,
        };
        let strip = HistoryStrip {
            case: o.case.clone(),
            lane: "cluster".into(),
            step: "rollout".into(),
            runs: vec![
                run("r2", "2025-02-01T00:00:00Z", Verdict::Passed),
                run("r1", "2025-01-01T00:00:00Z", Verdict::Regressed),
            ],
        };
        let page = render(&[o], Some(&[strip]));
        let first = page.find("title=\"r1 2025-01-01T00:00:00Z: regressed\"").expect("r1");
        let second = page.find("title=\"r2 2025-02-01T00:00:00Z: passed\"").expect("r2");
        assert!(first < second);
        assert!(!render(&[], None).contains("class=strip"));
    }

    #[test]
    fn the_page_fetches_nothing() {
        let page = render(
            &[outcome("rollout", StepResult::Ok, Verdict::Passed, Evidence::Real)],
            None,
        );
        assert!(!page.contains("http:") && !page.contains("https:") && !page.contains("//"));
        assert!(page.contains("default-src 'none'"));
    }
}
