//! Recording a run into a history folder: one append-only JSON Lines file per run, written whole and renamed in.
//!
//! Plain files rather than SQLite: a history lives in git (a branch or a repository of its own), where one new text
//! file per run never conflicts, diffs and blames line by line, and reads with `jq`; a database file would be a binary
//! blob that conflicts on every concurrent commit. Reading 10,000 runs stays fast because files are parsed in
//! parallel and every repeated string is interned (see `benches/history.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, StepResult};
use crate::words::{Environment, Evidence, Lane};

/// The format named on the first line of every run file.
pub const FORMAT: &str = "harness-history/1";

/// The folder under a history's root that holds the run files.
pub const RUNS: &str = "runs";

/// What is known of a run besides its outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunMeta {
    /// Unique per run (the harness's run id).
    pub id: String,
    /// When the run started, RFC 3339 in UTC (`2026-03-18T04:05:06Z`).
    pub started: String,
    /// The git revision of the scenarios, when they were in a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Where it ran: the kube context, `host` or `local`.
    pub place: String,
    /// The harness version that ran it.
    pub harness: String,
}

impl RunMeta {
    /// A run starting now, by this harness version.
    pub fn starting_now(id: impl Into<String>, revision: Option<String>, place: impl Into<String>) -> RunMeta {
        RunMeta {
            id: id.into(),
            started: rfc3339_utc(std::time::SystemTime::now()),
            revision,
            place: place.into(),
            harness: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The first line of a run file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    pub format: String,
    pub run: RunMeta,
}

/// The kind of a step's result, without its facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultKind {
    Ok,
    Failed,
    Skipped,
}

/// One outcome as a history keeps it: enough to say what changed, since when and on which versions.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record<'a> {
    pub case: &'a str,
    pub scenario: &'a str,
    pub lane: Lane,
    pub variant: &'a str,
    pub cell: &'a indexmap::IndexMap<String, String>,
    pub step: &'a str,
    pub verdict: crate::outcome::Verdict,
    pub result: ResultKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<&'a str>,
    pub evidence: Evidence,
    pub observed: &'a Environment,
}

impl<'a> Record<'a> {
    /// The compact record of `outcome`.
    pub fn of(outcome: &'a Outcome) -> Record<'a> {
        let (result, class, code, stage, first_error) = match &outcome.result {
            StepResult::Ok => (ResultKind::Ok, None, None, None, None),
            StepResult::Failed {
                class,
                code,
                stage,
                first_error,
            } => (
                ResultKind::Failed,
                Some(class.as_str()),
                code.as_deref(),
                stage.as_deref(),
                first_error.as_deref(),
            ),
            StepResult::Skipped { .. } => (ResultKind::Skipped, None, None, None, None),
        };
        Record {
            case: &outcome.case,
            scenario: &outcome.scenario,
            lane: outcome.lane,
            variant: &outcome.variant,
            cell: &outcome.cell,
            step: &outcome.step,
            verdict: outcome.verdict,
            result,
            class,
            code,
            stage,
            first_error,
            evidence: outcome.evidence,
            observed: &outcome.observed,
        }
    }
}

/// Records a run into the history at `dir`: a new file `DIR/runs/<started>-<id>.jsonl` (a header line with `meta`,
/// then one line per outcome), written to a temporary file and moved in; an existing file is never overwritten
/// (`AlreadyExists`). Returns the file written.
pub fn record(dir: &Path, meta: &RunMeta, outcomes: &[Outcome]) -> std::io::Result<PathBuf> {
    let stamp = file_stamp(&meta.started).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("run start `{}` is not RFC 3339 in UTC", meta.started),
        )
    })?;
    if meta.id.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "run id is empty"));
    }
    let runs = dir.join(RUNS);
    std::fs::create_dir_all(&runs)?;
    let path = runs.join(format!("{stamp}-{}.jsonl", file_safe(&meta.id)));
    if path.exists() {
        return Err(already_recorded(&path));
    }
    let bytes = run_file(meta, outcomes)?;
    let temporary = runs.join(format!(".{}.{}.tmp", file_safe(&meta.id), std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)?;
    let written = file.write_all(&bytes).and_then(|()| file.sync_all());
    drop(file);
    let moved = written.and_then(|()| move_without_overwriting(&temporary, &path));
    let _ = std::fs::remove_file(&temporary);
    moved.map(|()| path)
}

/// The bytes of a run file: the header, then one record per outcome.
pub(crate) fn run_file(meta: &RunMeta, outcomes: &[Outcome]) -> std::io::Result<Vec<u8>> {
    let header = Header {
        format: FORMAT.to_owned(),
        run: meta.clone(),
    };
    let mut bytes = serde_json::to_vec(&header)?;
    bytes.push(b'\n');
    for outcome in outcomes {
        serde_json::to_writer(&mut bytes, &Record::of(outcome))?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Links `from` to `to` (which fails if `to` exists), falling back to a checked rename where links are not supported.
fn move_without_overwriting(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(already_recorded(to)),
        Err(_) if to.exists() => Err(already_recorded(to)),
        Err(_) => std::fs::rename(from, to),
    }
}

fn already_recorded(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "{} is already recorded; a run file is never overwritten",
            path.display()
        ),
    )
}

/// `id` with every character but ASCII letters, digits, `.`, `_` and `-` replaced by `_` (a file name on every OS).
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `20260318T040506Z` (with `.fff` kept as `123`) for a start time: sorts as the time does, and has no `:` (Windows).
fn file_stamp(started: &str) -> Option<String> {
    let (seconds, nanos) = parse_rfc3339_utc(started)?;
    let (date, time) = civil(seconds);
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!("{nanos:09}")
    };
    Some(format!("{date}T{time}{fraction}Z"))
}

/// The git revision checked out at `repo` (`git rev-parse HEAD`); `None` when it is not a git checkout or git is
/// missing.
pub fn git_revision(repo: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let revision = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !revision.is_empty()).then_some(revision)
}

/// `time` as RFC 3339 in UTC, to the second: `2026-03-18T04:05:06Z`.
pub fn rfc3339_utc(time: std::time::SystemTime) -> String {
    let seconds = match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => since.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    let (date, time) = civil(seconds);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    )
}

/// Seconds since the epoch and nanoseconds of an RFC 3339 time in UTC (`Z` or `+00:00`); `None` for anything else.
pub fn parse_rfc3339_utc(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let length = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if length == 0 || length > 9 {
            return None;
        }
        nanos = fraction[..length].parse::<u32>().ok()? * 10u32.pow(9 - length as u32);
        rest = &fraction[length..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    valid.then(|| {
        (
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second,
            nanos,
        )
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `("YYYYMMDD", "HHMMSS")` of seconds since the epoch, in UTC.
fn civil(seconds: i64) -> (String, String) {
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}{month:02}{day:02}"),
        format!(
            "{:02}{:02}{:02}",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_rfc3339() {
        for seconds in [0i64, 951_782_400, 1_773_806_706, 4_102_444_799] {
            let text = rfc3339_utc(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds as u64));
            assert_eq!(parse_rfc3339_utc(&text), Some((seconds, 0)), "{text}");
        }
        assert_eq!(rfc3339_utc(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339_utc("2026-03-18T04:05:06.5Z"),
            Some((1_773_806_706, 500_000_000))
        );
        for bad in [
            "2026-03-18T04:05:06",
            "2026-03-18T04:05:06+01:00",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-03-18T04:05:06.Z",
        ] {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_names_sort_as_time_and_hold_no_colon() {
        assert_eq!(file_stamp("2026-03-18T04:05:06Z").unwrap(), "20260318T040506Z");
        assert_eq!(
            file_stamp("2026-03-18T04:05:06.25Z").unwrap(),
            "20260318T040506250000000Z"
        );
        assert_eq!(file_safe("run 1/2:x"), "run_1_2_x");
    }

    #[test]
    fn git_revision_is_none_outside_a_checkout() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(git_revision(dir.path()), None);
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        if repository.join(".git").exists() {
            assert!(git_revision(repository).is_some_and(|r| r.len() >= 40));
        }
    }
}
