//! The host lane: the Windows probe natively and inside a silo the probe creates, on an elevated Windows machine.

/// Why the host lane cannot run here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if cfg!(windows) {
        Some("the host lane is not built into this harness yet".to_owned())
    } else {
        Some(format!(
            "the host lane needs an elevated Windows machine; this is {}",
            std::env::consts::OS
        ))
    }
}
