//! The process exit codes of DESIGN.md, for CI.

use std::process::ExitCode;

/// How a harness command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every verdict as expected.
    Ok = 0,
    /// A verdict differs: regressed, no-longer-reproduces or changed.
    VerdictDiffers = 1,
    /// Invalid input or usage.
    InvalidInput = 2,
    /// Infrastructure could not run what was asked.
    Infrastructure = 3,
    /// Interrupted, after teardown ran.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}
