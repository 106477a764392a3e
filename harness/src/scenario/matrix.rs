//! Expands a scenario's matrix into cases: one per matrix cell, lane and variant, named like `buildkit-6590/buildkit=v0.28.0/variant=reproduction`.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::scenario::Loaded;
use crate::words::Lane;

/// One run of one variant of a scenario, in one matrix cell, on one lane.
#[derive(Debug, Clone)]
pub struct Case {
    pub loaded: Arc<Loaded>,
    /// Matrix axis -> value, in the order the scenario declares the axes.
    pub cell: IndexMap<String, String>,
    pub lane: Lane,
    pub variant: String,
}

impl Case {
    /// `scenario/axis=value/.../variant=name`: stable, and what `cargo test` filters on.
    pub fn name(&self) -> String {
        let mut name = self.loaded.scenario.metadata.name.clone();
        for (axis, value) in &self.cell {
            name.push_str(&format!("/{axis}={value}"));
        }
        name.push_str(&format!("/variant={}", self.variant));
        name
    }

    /// The values of `${name}` placeholders: parameters, overridden by the matrix cell, overridden by `overrides`.
    pub fn parameters(&self, overrides: &IndexMap<String, String>) -> IndexMap<String, String> {
        let mut values = self.loaded.scenario.parameters.clone();
        values.extend(self.cell.clone());
        values.extend(overrides.clone());
        values
    }
}

/// How many cells the matrix has, without expanding it (saturating: a product too large to count is `usize::MAX`).
pub fn cell_count(matrix: &IndexMap<String, Vec<String>>) -> usize {
    matrix
        .values()
        .fold(1usize, |count, values| count.saturating_mul(values.len()))
}

/// Every matrix cell: the cartesian product of the axes, in declaration order (one empty cell without a matrix).
pub fn cells(matrix: &IndexMap<String, Vec<String>>) -> Vec<IndexMap<String, String>> {
    matrix.iter().fold(vec![IndexMap::new()], |cells, (axis, values)| {
        cells
            .iter()
            .flat_map(|cell| {
                values.iter().map(move |value| {
                    let mut next = cell.clone();
                    next.insert(axis.clone(), value.clone());
                    next
                })
            })
            .collect()
    })
}

/// The variants a lane runs for a scenario: the scenario's own for offline and cluster; native and in-silo probes
/// for the host lane, when the scenario has probes bindprobe runs.
pub fn variants(loaded: &Loaded, lane: Lane) -> Vec<String> {
    match lane {
        Lane::Host if !loaded.scenario.probes.values().any(|p| p.runs_bindprobe()) => Vec::new(),
        lane => match lane.own_variants() {
            Some(own) => own.iter().map(|v| (*v).to_owned()).collect(),
            None => loaded.scenario.variants.keys().cloned().collect(),
        },
    }
}

/// Whether a cell's `value` is what `wanted` (a value, or a version requirement such as `<1.7`) asks for.
pub fn selects(wanted: &str, value: &str) -> bool {
    wanted == value
        || crate::scenario::version::Requirement::parse(wanted).is_ok_and(|requirement| requirement.matches(value))
}

/// Whether `variant` runs in `cell`: every axis its `cells` names selects the cell's value (lanes' own variants run
/// everywhere).
fn runs_in(loaded: &Loaded, variant: &str, cell: &IndexMap<String, String>) -> bool {
    loaded.scenario.variants.get(variant).is_none_or(|v| {
        v.cells
            .iter()
            .all(|(axis, wanted)| cell.get(axis).is_some_and(|value| selects(wanted, value)))
    })
}

/// Every case of a scenario on the given lanes.
pub fn cases(loaded: &Arc<Loaded>, lanes: &[Lane]) -> Vec<Case> {
    let cells = cells(&loaded.scenario.matrix);
    lanes
        .iter()
        .flat_map(|&lane| {
            let cells = &cells;
            variants(loaded, lane).into_iter().flat_map(move |variant| {
                let cells = cells
                    .iter()
                    .filter(|cell| runs_in(loaded, &variant, cell))
                    .collect::<Vec<_>>();
                cells.into_iter().map(move |cell| Case {
                    loaded: loaded.clone(),
                    cell: cell.clone(),
                    lane,
                    variant: variant.clone(),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_a_cartesian_product_in_declaration_order() {
        let matrix = IndexMap::from([
            ("buildkit".to_owned(), vec!["v0.28.0".to_owned(), "v0.27.1".to_owned()]),
            ("containerd".to_owned(), vec!["1.7.29".to_owned(), "2.3.4".to_owned()]),
        ]);
        let cells = cells(&matrix);
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[1].values().collect::<Vec<_>>(), ["v0.28.0", "2.3.4"]);
        assert_eq!(cells[2].keys().collect::<Vec<_>>(), ["buildkit", "containerd"]);
        assert_eq!(super::cells(&IndexMap::new()), vec![IndexMap::<String, String>::new()]);
    }

    #[test]
    fn an_axis_named_after_a_component_holds_versions() {
        use crate::scenario::{error::Source, from_source};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "matrix:\n  buildkit: [v0.28.0]\n",
            "matrix:\n  buildkit: [v0.28.0]\n  containerd: [1.7.29, latest]\n",
        );
        let source = std::sync::Arc::new(Source {
            name: "cells.yaml".into(),
            text,
        });
        let rendered = from_source(&source, &path)
            .err()
            .map(|e| e.render())
            .unwrap_or_default();
        assert!(
            rendered.contains("`latest` is not a version: axis `containerd` selects")
                && rendered.contains("containerd: [1.7.29, latest]"),
            "{rendered}"
        );
    }
}
