//! What runs where: every case of every scenario on every lane asked for, and why a lane cannot run here.

use std::sync::Arc;

use crate::lanes::{self, Context};
use crate::scenario::Loaded;
use crate::scenario::matrix::{self, Case};
use crate::words::Lane;

/// One case on one lane, and the reason it will not run here, if it will not.
#[derive(Debug, Clone)]
pub struct Planned {
    pub case: Case,
    pub skip: Option<String>,
}

/// Plans every case of `scenarios` on `lanes`.
pub fn plan(scenarios: &[Arc<Loaded>], lanes: &[Lane], context: &Context) -> Vec<Planned> {
    scenarios
        .iter()
        .flat_map(|loaded| matrix::cases(loaded, lanes))
        .map(|case| {
            let skip = lanes::unavailable(case.lane, &case, context);
            Planned { case, skip }
        })
        .collect()
}
