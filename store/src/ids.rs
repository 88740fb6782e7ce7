//! Identifiers. Ids are UUIDv7 text: unique without coordination between API instances, and
//! ordered by creation time, so "newest first" is an index scan on the id.

/// A new time-ordered id with a short prefix naming its kind (`ws_`, `key_`, `ag_`, `ev_`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A new run id. Bare (no prefix) because it is embedded in workflow ids and URLs.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let a = new_run_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_run_id();
        assert!(a < b);
        assert_eq!(a.len(), 32);
        assert!(new_id("ws").starts_with("ws_"));
    }
}
