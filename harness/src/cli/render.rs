//! `harness render SCENARIO [--variant NAME]`: prints the exact manifests a case applies, as YAML.

use std::path::PathBuf;

use crate::cli::overrides;
use crate::exit::Exit;
use crate::render;
use crate::scenario::{self, matrix};
use crate::words::Lane;

/// Arguments of `harness render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file.
    scenario: PathBuf,
    /// Which variant to render (default: every variant).
    #[arg(long)]
    variant: Option<String>,
    /// Which matrix cell, as `axis=value` (repeatable); default: every cell.
    #[arg(long = "cell", value_name = "AXIS=VALUE")]
    cell: Vec<String>,
    /// Override a parameter, as `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// The run id the labels carry.
    #[arg(long, default_value = "manual")]
    run_id: String,
}

pub fn run(args: Args) -> Exit {
    if let Err(message) = super::run::check_run_id(&args.run_id) {
        errln!(
            "error: --run-id `{}` {message}\n  help: use lower-case letters, digits and dashes",
            args.run_id
        );
        return Exit::InvalidInput;
    }
    let loaded = match scenario::load(&args.scenario) {
        Ok(loaded) => loaded,
        Err(error) => return super::invalid(error),
    };
    let (Ok(set), Ok(cell)) = (
        overrides::parse("--set", &args.set),
        overrides::parse("--cell", &args.cell),
    ) else {
        return Exit::InvalidInput;
    };
    if let Some(variant) = &args.variant
        && !loaded.scenario.variants.contains_key(variant)
    {
        let known: Vec<&String> = loaded.scenario.variants.keys().collect();
        errln!(
            "error: {} has no variant `{variant}`\n  help: choose one of {known:?}",
            args.scenario.display()
        );
        return Exit::InvalidInput;
    }
    let cases: Vec<_> = matrix::cases(&loaded, &[Lane::Offline])
        .into_iter()
        .filter(|case| args.variant.as_ref().is_none_or(|v| v == &case.variant))
        .filter(|case| cell.iter().all(|(axis, value)| case.cell.get(axis) == Some(value)))
        .collect();
    if cases.is_empty() {
        errln!(
            "error: no matrix cell of {} matches {:?}",
            args.scenario.display(),
            args.cell
        );
        return Exit::InvalidInput;
    }
    for case in cases {
        outln!("# {}", case.name());
        out!("{}", render::render(&case, &args.run_id, &set).to_yaml());
    }
    Exit::Ok
}
