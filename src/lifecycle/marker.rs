//! The start-completion marker `/tmp/aku_start_completed`, which a Kubernetes
//! startupProbe checks (spec section 1). Written last by `start`, removed by
//! `end` and `clean`.

use std::io;
use std::path::Path;

/// The path the original uses. `AKU_MARKER_FILE` overrides it (an extension for tests).
pub const DEFAULT_MARKER: &str = "/tmp/aku_start_completed";

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Creates the marker (and makes it durable) once every required step succeeded.
pub fn write(path: &Path) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    file.sync_all()
}

/// Removes the marker; a missing marker is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
