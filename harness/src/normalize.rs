//! Makes text stable for snapshots: what varies per run and machine becomes a placeholder; classes, codes, stages and versions stay.
