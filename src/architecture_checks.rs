//! The crate graph's rules, checked over `cargo metadata` so a change that breaks one fails
//! the test suite (README, "Architecture"):
//! - `domain` depends on `serde` and nothing else: no I/O, no clocks, no randomness;
//! - `workflows` depends on no I/O crate directly (only the workflow half of the SDK);
//! - the API links neither `activities` nor `worker`, so no model provider or tool, nor
//!   reqwest, is in the HTTP front;
//! - `store`, `workflows` and `temporal` depend on no other longrun crate but `domain`;
//! - nothing depends on the binary, and `activities` knows neither `api` nor `worker`;
//! - the benchmark links no longrun crate but `temporal` (for its dev servers), so its
//!   raw-SDK reference stays what a user would write on the SDK alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Package name → its normal (not dev, not build) dependencies' package names, for every
/// package in the resolved graph.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    // Only this machine's platform: the others' crates are not downloaded (and not linked).
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_string))
        .expect("rustc names its host");
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| names[dep["pkg"].as_str().unwrap()].to_string())
                .collect();
            (names[node["id"].as_str().unwrap()].to_string(), deps)
        })
        .collect()
}

fn closure(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending = vec![root.to_string()];
    while let Some(name) = pending.pop() {
        for dep in &graph[&name] {
            if seen.insert(dep.clone()) {
                pending.push(dep.clone());
            }
        }
    }
    seen
}

fn ours(deps: &BTreeSet<String>) -> BTreeSet<&str> {
    deps.iter()
        .map(String::as_str)
        .filter(|name| name.starts_with("longrun"))
        .collect()
}

#[test]
fn the_crate_graph_keeps_its_rules() {
    let graph = graph();
    let direct = |name: &str| graph[name].clone();

    let domain: BTreeSet<String> = direct("longrun-domain");
    assert_eq!(
        domain,
        BTreeSet::from(["serde".to_string()]),
        "domain is pure: serde only"
    );

    let io = [
        "tokio",
        "sqlx",
        "reqwest",
        "hyper",
        "axum",
        "redis",
        "deadpool-redis",
        "nix",
    ];
    for crate_name in io {
        assert!(
            !direct("longrun-workflows").contains(crate_name),
            "workflows depends on {crate_name}"
        );
    }

    let api = closure(&graph, "longrun-api");
    for banned in ["longrun-activities", "longrun-worker", "reqwest"] {
        assert!(!api.contains(banned), "the API links {banned}");
    }
    for (name, allowed) in [
        ("longrun-store", &["longrun-domain"][..]),
        ("longrun-workflows", &["longrun-domain"][..]),
        ("longrun-temporal", &[][..]),
        // The raw-SDK reference must not run on longrun's code: only the dev server's crate.
        ("longrun-bench", &["longrun-temporal"][..]),
        (
            "longrun-activities",
            &["longrun-domain", "longrun-store", "longrun-workflows"][..],
        ),
    ] {
        let deps = direct(name);
        let found = ours(&deps);
        let allowed: BTreeSet<&str> = allowed.iter().copied().collect();
        assert!(
            found.is_subset(&allowed),
            "{name} depends on {found:?}, allowed {allowed:?}"
        );
    }
    for (name, deps) in &graph {
        assert!(!deps.contains("longrun"), "{name} depends on the binary");
    }
}
