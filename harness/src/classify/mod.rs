//! Pure: raw text from buildkit, containerd, hcsshim, kubelet and probes -> a stable outcome class plus facts.

mod class;

pub use class::Class;
