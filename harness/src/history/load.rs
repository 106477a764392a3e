//! Reading a history folder: every run file parsed (files in parallel), repeated strings interned, runs in time order.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxBuildHasher;
use serde::Deserialize;

use super::store::{FORMAT, Header, RUNS, ResultKind, RunMeta, parse_rfc3339_utc};
use crate::outcome::Verdict;
use crate::words::{Environment, Evidence, Lane};

/// Every run of a history, oldest first, with the tracks, environments and results their entries point into.
#[derive(Debug, Default)]
pub struct History {
    pub runs: Vec<Run>,
    pub tracks: Vec<Track>,
    pub environments: Vec<Environment>,
    pub results: Vec<ResultFacts>,
}

/// One recorded run.
#[derive(Debug)]
pub struct Run {
    pub meta: RunMeta,
    pub file: PathBuf,
    pub entries: Vec<Entry>,
}

/// One outcome of a run: indexes into [`History::tracks`], [`History::environments`] and [`History::results`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub track: u32,
    pub environment: u32,
    pub result: u32,
    pub verdict: Verdict,
}

/// A step of a case on a lane, from one kind of evidence: simulated results are a track of their own, never mixed
/// with real ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    pub case: String,
    pub scenario: String,
    pub lane: Lane,
    pub variant: String,
    pub step: String,
    pub evidence: Evidence,
}

/// What a step did, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultFacts {
    pub kind: ResultKind,
    pub class: Option<String>,
    pub code: Option<String>,
    pub stage: Option<String>,
    pub first_error: Option<String>,
}

impl History {
    pub fn track(&self, entry: &Entry) -> &Track {
        &self.tracks[entry.track as usize]
    }

    pub fn environment(&self, entry: &Entry) -> &Environment {
        &self.environments[entry.environment as usize]
    }

    pub fn result(&self, entry: &Entry) -> &ResultFacts {
        &self.results[entry.result as usize]
    }
}

/// Why a history could not be read: every problem found, each with its file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub problems: Vec<Problem>,
}

/// One problem: the file, the line (0 when it concerns the file as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl Error {
    fn one(file: &Path, line: usize, message: impl Into<String>) -> Error {
        Error {
            problems: vec![Problem::at(file, line, message)],
        }
    }
}

impl Problem {
    fn at(file: &Path, line: usize, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            line => write!(f, "{}:{line}: {}", self.file.display(), self.message),
        }
    }
}

impl std::fmt::Display for Error {
    /// The first 20 problems, one a line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 20;
        for (i, problem) in self.problems.iter().take(SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        if self.problems.len() > SHOWN {
            write!(f, "\n... and {} more", self.problems.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Reads the history at `dir` (its `runs/` folder; none yet is an empty history). Every file in it that is not a
/// valid run file is a problem, reported with its line; none is skipped but hidden files (temporary files of a
/// recording in progress).
pub fn load(dir: &Path) -> Result<History, Error> {
    if !dir.is_dir() {
        return Err(Error::one(dir, 0, "is not a history folder"));
    }
    let (files, not_run_files) = run_files(&dir.join(RUNS))?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let chunk = files.len().div_ceil(threads).max(1);
    let parsed: Vec<Parsed> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|files| scope.spawn(move || parse_files(files)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a history parser panicked"))
            .collect()
    });
    merge(parsed, not_run_files)
}

/// The candidate run files in `runs`, sorted, and a problem for anything there that cannot be one.
fn run_files(runs: &Path) -> Result<(Vec<PathBuf>, Vec<Problem>), Error> {
    let entries = match std::fs::read_dir(runs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(Error::one(runs, 0, format!("cannot be read: {e}"))),
    };
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => return Err(Error::one(runs, 0, format!("cannot be listed: {e}"))),
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        } else if !name.ends_with(".jsonl") || !path.is_file() {
            problems.push(Problem::at(&path, 0, "is not a run file (`<started>-<id>.jsonl`)"));
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok((files, problems))
}

/// A record as read, borrowing from the line where it can.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordIn<'a> {
    #[serde(borrow)]
    case: Cow<'a, str>,
    #[serde(borrow)]
    scenario: Cow<'a, str>,
    lane: Lane,
    #[serde(borrow)]
    variant: Cow<'a, str>,
    #[serde(borrow)]
    step: Cow<'a, str>,
    verdict: Verdict,
    result: ResultKind,
    #[serde(default, borrow)]
    class: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    stage: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    first_error: Option<Cow<'a, str>>,
    evidence: Evidence,
    #[serde(default, borrow)]
    observed: EnvironmentIn<'a>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct EnvironmentIn<'a> {
    #[serde(default, borrow)]
    k0s: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kubelet: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    containerd: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    windows_build: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    buildkit: Option<Cow<'a, str>>,
}

/// No string (an absent field).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TrackKey {
    case: u32,
    scenario: u32,
    variant: u32,
    step: u32,
    lane: Lane,
    simulated: bool,
}

type EnvironmentKey = [u32; 5];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ResultKey {
    kind: ResultKind,
    class: u32,
    code: u32,
    stage: u32,
    first_error: u32,
}

/// Values numbered in the order first seen.
struct Table<K> {
    ids: HashMap<K, u32, FxBuildHasher>,
    all: Vec<K>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table {
            ids: HashMap::default(),
            all: Vec::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn id(&mut self, key: K) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.all.len() as u32;
        self.all.push(key.clone());
        self.ids.insert(key, id);
        id
    }
}

/// Strings numbered in the order first seen, each stored once.
#[derive(Default)]
struct Strings(Table<Arc<str>>);

impl Strings {
    fn id(&mut self, text: &str) -> u32 {
        match self.0.ids.get(text) {
            Some(&id) => id,
            None => self.0.id(Arc::from(text)),
        }
    }

    fn maybe(&mut self, text: Option<&str>) -> u32 {
        text.map_or(NONE, |t| self.id(t))
    }

    fn get(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| &*self.0.all[id as usize])
    }
}

/// What one parser made of its files: runs whose entries number into its own tables.
#[derive(Default)]
struct Parsed {
    runs: Vec<(Run, (i64, u32))>,
    problems: Vec<Problem>,
    strings: Strings,
    tracks: Table<TrackKey>,
    environments: Table<EnvironmentKey>,
    results: Table<ResultKey>,
}

fn parse_files(files: &[PathBuf]) -> Parsed {
    let mut parsed = Parsed::default();
    for file in files {
        match std::fs::read_to_string(file) {
            Ok(text) => parsed.run_file(file, &text),
            Err(e) => parsed
                .problems
                .push(Problem::at(file, 0, format!("cannot be read: {e}"))),
        }
    }
    parsed
}

impl Parsed {
    /// Parses one run file; a file with any problem adds no run.
    fn run_file(&mut self, file: &Path, text: &str) {
        let mut lines = text.lines().enumerate();
        let Some((_, first)) = lines.next() else {
            self.problems
                .push(Problem::at(file, 1, "empty run file: no header line"));
            return;
        };
        let (meta, time) = match header(first) {
            Ok(header) => header,
            Err(message) => return self.problems.push(Problem::at(file, 1, message)),
        };
        let mut entries = Vec::new();
        let problems_before = self.problems.len();
        for (index, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<RecordIn>(line) {
                Ok(record) => entries.push(self.entry(&record)),
                Err(e) => self
                    .problems
                    .push(Problem::at(file, index + 1, format!("corrupt record: {e}"))),
            }
        }
        if self.problems.len() == problems_before {
            let run = Run {
                meta,
                file: file.to_owned(),
                entries,
            };
            self.runs.push((run, time));
        }
    }

    fn entry(&mut self, record: &RecordIn) -> Entry {
        let strings = &mut self.strings;
        let track = TrackKey {
            case: strings.id(&record.case),
            scenario: strings.id(&record.scenario),
            variant: strings.id(&record.variant),
            step: strings.id(&record.step),
            lane: record.lane,
            simulated: record.evidence == Evidence::Simulated,
        };
        let observed = &record.observed;
        let environment = [
            strings.maybe(observed.k0s.as_deref()),
            strings.maybe(observed.kubelet.as_deref()),
            strings.maybe(observed.containerd.as_deref()),
            strings.maybe(observed.windows_build.as_deref()),
            strings.maybe(observed.buildkit.as_deref()),
        ];
        let result = ResultKey {
            kind: record.result,
            class: strings.maybe(record.class.as_deref()),
            code: strings.maybe(record.code.as_deref()),
            stage: strings.maybe(record.stage.as_deref()),
            first_error: strings.maybe(record.first_error.as_deref()),
        };
        Entry {
            track: self.tracks.id(track),
            environment: self.environments.id(environment),
            result: self.results.id(result),
            verdict: record.verdict,
        }
    }
}

/// The run a header line describes, and its start time; or what is wrong with it.
fn header(line: &str) -> Result<(RunMeta, (i64, u32)), String> {
    let header: Header = serde_json::from_str(line).map_err(|e| format!("not a run header: {e}"))?;
    if header.format != FORMAT {
        return Err(format!(
            "format `{}` is not one this harness reads (`{FORMAT}`)",
            header.format
        ));
    }
    if header.run.id.is_empty() {
        return Err("the run has no id".to_owned());
    }
    let time = parse_rfc3339_utc(&header.run.started)
        .ok_or_else(|| format!("run start `{}` is not RFC 3339 in UTC", header.run.started))?;
    Ok((header.run, time))
}

/// One history from what every parser made: ids renumbered into shared tables, runs in time order (then by id), a
/// run id recorded twice a problem.
fn merge(parsed: Vec<Parsed>, mut problems: Vec<Problem>) -> Result<History, Error> {
    problems.extend(parsed.iter().flat_map(|p| p.problems.iter().cloned()));
    let mut strings = Strings::default();
    let mut tracks = Table::<TrackKey>::default();
    let mut environments = Table::<EnvironmentKey>::default();
    let mut results = Table::<ResultKey>::default();
    let mut runs = Vec::new();
    for part in parsed {
        let text: Vec<u32> = part.strings.0.all.iter().map(|s| strings.id(s)).collect();
        let renumber = |id: u32| if id == NONE { NONE } else { text[id as usize] };
        let track_ids: Vec<u32> = part
            .tracks
            .all
            .iter()
            .map(|k| {
                tracks.id(TrackKey {
                    case: renumber(k.case),
                    scenario: renumber(k.scenario),
                    variant: renumber(k.variant),
                    step: renumber(k.step),
                    ..*k
                })
            })
            .collect();
        let environment_ids: Vec<u32> = part
            .environments
            .all
            .iter()
            .map(|k| environments.id(k.map(renumber)))
            .collect();
        let result_ids: Vec<u32> = part
            .results
            .all
            .iter()
            .map(|k| {
                results.id(ResultKey {
                    class: renumber(k.class),
                    code: renumber(k.code),
                    stage: renumber(k.stage),
                    first_error: renumber(k.first_error),
                    ..*k
                })
            })
            .collect();
        for (mut run, time) in part.runs {
            for entry in &mut run.entries {
                entry.track = track_ids[entry.track as usize];
                entry.environment = environment_ids[entry.environment as usize];
                entry.result = result_ids[entry.result as usize];
            }
            runs.push((run, time));
        }
    }
    runs.sort_by(|(a, at), (b, bt)| at.cmp(bt).then_with(|| a.meta.id.cmp(&b.meta.id)));
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for (run, _) in &runs {
        if let Some(other) = seen.insert(&run.meta.id, &run.file) {
            problems.push(Problem::at(
                &run.file,
                1,
                format!("run id `{}` is also recorded in {}", run.meta.id, other.display()),
            ));
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(Error { problems });
    }
    let owned = |id: u32| strings.get(id).map(str::to_owned);
    Ok(History {
        runs: runs.into_iter().map(|(run, _)| run).collect(),
        tracks: tracks
            .all
            .iter()
            .map(|k| Track {
                case: owned(k.case).unwrap_or_default(),
                scenario: owned(k.scenario).unwrap_or_default(),
                lane: k.lane,
                variant: owned(k.variant).unwrap_or_default(),
                step: owned(k.step).unwrap_or_default(),
                evidence: if k.simulated {
                    Evidence::Simulated
                } else {
                    Evidence::Real
                },
            })
            .collect(),
        environments: environments
            .all
            .iter()
            .map(|k| Environment {
                k0s: owned(k[0]),
                kubelet: owned(k[1]),
                containerd: owned(k[2]),
                windows_build: owned(k[3]),
                buildkit: owned(k[4]),
                // The history keeps the built-in components' versions only.
                components: Default::default(),
            })
            .collect(),
        results: results
            .all
            .iter()
            .map(|k| ResultFacts {
                kind: k.kind,
                class: owned(k.class),
                code: owned(k.code),
                stage: owned(k.stage),
                first_error: owned(k.first_error),
            })
            .collect(),
    })
}
