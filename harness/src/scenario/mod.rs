//! Scenario files: the model, loading with locations, validation and matrix expansion.

pub mod expect;
pub mod model;
pub mod tree;

pub use model::Scenario;
pub mod error;
pub mod load;
