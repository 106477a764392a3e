//! Platform dispatch: the Windows implementation, or a fallback that makes every subcommand report "bindprobe runs only on Windows" (exit 3).

#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub use windows::{as_system, bind, context, in_silo, layer};

#[cfg(not(windows))]
pub use fallback::{as_system, bind, context, in_silo, layer};

#[cfg(not(windows))]
mod fallback {
    use crate::args::{AsSystemArgs, BindArgs, InSiloArgs, LayerArgs};
    use crate::report::Report;

    pub fn bind(_: &BindArgs) -> Report {
        Report::unsupported("bind")
    }

    pub fn layer(_: &LayerArgs) -> Report {
        Report::unsupported("layer")
    }

    pub fn context() -> Report {
        Report::unsupported("context")
    }

    pub fn in_silo(_: &InSiloArgs) -> Report {
        Report::unsupported("in-silo")
    }

    pub fn as_system(_: &AsSystemArgs) -> Report {
        Report::unsupported("as-system")
    }
}
