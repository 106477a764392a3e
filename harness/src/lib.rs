//! Turns a Windows-on-Kubernetes bug report into a repeatable experiment: scenario -> plan -> lanes -> outcomes -> verdicts -> reports.

pub mod accepted;
pub mod classify;
pub mod cli;
pub mod exit;
pub mod history;
pub mod judge;
pub mod lanes;
pub mod normalize;
pub mod outcome;
pub mod plan;
pub mod redact;
pub mod render;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod words;
