//! What the binary's unit tests share.

use std::path::PathBuf;

/// A file `name` holding `text`, in a temporary directory that lives as long as the guard.
pub(crate) fn file_with(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    (dir, file)
}
