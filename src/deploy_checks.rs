//! Static checks of the deployment files: `Dockerfile`, `.dockerignore`,
//! `temporal-compose.yml`, `.env.example` and `deploy/`. They run with the unit tests, so CI
//! catches a compose service with a misspelled role or variable, an alert or a dashboard
//! panel on a metric the code does not export, or a Dockerfile that forgot a workspace crate,
//! before anyone deploys. They only read files: no Docker, no Prometheus (`scripts/check-deploy`
//! runs promtool on the Prometheus files).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use serde_json::Value;

/// Variables longrun reads besides its configuration keys.
const OTHER_ENV: [&str; 3] = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "RUST_LOG"];

/// Variables that hold secrets: in compose they may only come from `.env`.
const SECRET_ENV: [&str; 4] = [
    "LONGRUN_JWT_SECRET",
    "LONGRUN_BILLING_TOKEN",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
];

/// Metric files whose `pub const …: &str = "longrun_…"` name every series longrun exports.
const METRIC_FILES: [&str; 2] = ["api/src/metrics.rs", "activities/src/metrics.rs"];

/// Exported outside those files: the readiness gauge, `longrun_ready{check}`.
const OTHER_LONGRUN_METRICS: [&str; 1] = ["longrun_ready"];

/// The Temporal SDK's worker series the alerts and the dashboard may use (histograms get
/// their `_bucket`, `_count` and `_sum` series).
const TEMPORAL_SDK_METRICS: [&str; 4] = [
    "temporal_workflow_task_schedule_to_start_latency_seconds",
    "temporal_activity_schedule_to_start_latency_seconds",
    "temporal_workflow_completed_total",
    "temporal_worker_task_slots_available",
];

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative))
        .unwrap_or_else(|err| panic!("cannot read {relative}: {err}"))
}

fn contains_merge_key(value: &serde_norway::Value) -> bool {
    match value {
        serde_norway::Value::Mapping(mapping) => mapping
            .iter()
            .any(|(key, value)| key.as_str() == Some("<<") || contains_merge_key(value)),
        serde_norway::Value::Sequence(items) => items.iter().any(contains_merge_key),
        serde_norway::Value::Tagged(tagged) => contains_merge_key(&tagged.value),
        _ => false,
    }
}

/// A YAML file with its `<<` merge keys applied (as Docker Compose does), as JSON values.
fn yaml(relative: &str) -> Value {
    let mut value: serde_norway::Value = serde_norway::from_str(&read(relative))
        .unwrap_or_else(|err| panic!("{relative} is not valid YAML: {err}"));
    // One pass leaves the merge keys that a merged mapping brought along: repeat.
    for _ in 0..8 {
        if !contains_merge_key(&value) {
            break;
        }
        value
            .apply_merge()
            .unwrap_or_else(|err| panic!("{relative}: bad merge key: {err}"));
    }
    assert!(
        !contains_merge_key(&value),
        "{relative}: merge keys nest too deep"
    );
    serde_json::to_value(value).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

fn known_env() -> BTreeSet<&'static str> {
    crate::config::env_names().chain(OTHER_ENV).collect()
}

fn compose() -> Value {
    yaml("temporal-compose.yml")
}

fn services(compose: &Value) -> &serde_json::Map<String, Value> {
    compose["services"]
        .as_object()
        .expect("temporal-compose.yml has a services mapping")
}

/// The services that run the longrun image.
fn longrun_services(compose: &Value) -> Vec<(&str, &Value)> {
    services(compose)
        .iter()
        .filter(|(_, service)| {
            service["image"]
                .as_str()
                .is_some_and(|image| image.starts_with("longrun"))
        })
        .map(|(name, service)| (name.as_str(), service))
        .collect()
}

fn command_words(service: &Value) -> Vec<String> {
    match &service["command"] {
        Value::String(text) => text.split_whitespace().map(str::to_string).collect(),
        Value::Array(words) => words
            .iter()
            .map(|word| {
                word.as_str()
                    .expect("command words are strings")
                    .to_string()
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `environment` as a mapping or as a list of `NAME=value`.
fn environment(service: &Value) -> Vec<(String, String)> {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match &service["environment"] {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let item = item.as_str().expect("environment entries are strings");
                let (name, value) = item.split_once('=').unwrap_or((item, ""));
                (name.to_string(), value.to_string())
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The variables a compose file interpolates, `${NAME…}` or `$NAME` (`$$` is a literal `$`),
/// each with whether it is required (`${NAME:?…}`).
fn interpolated_variables(text: &str) -> Vec<(String, bool)> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let start = i + 2;
                let mut end = start;
                while end < bytes.len() && is_name(bytes[end]) {
                    end += 1;
                }
                let rest = &text[end..];
                let required = rest.starts_with(":?") || rest.starts_with('?');
                found.push((text[start..end].to_string(), required));
                i = end;
            }
            Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && is_name(bytes[end]) {
                    end += 1;
                }
                found.push((text[start..end].to_string(), false));
                i = end;
            }
            _ => i += 1,
        }
    }
    found
}

/// `.env.example` lines `NAME=…`, commented out or not: (name, commented, line index).
fn env_example_assignments(text: &str) -> Vec<(String, bool, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let (commented, body) = match line.strip_prefix('#') {
                Some(body) => (true, body.trim_start()),
                None => (false, line),
            };
            let (name, _) = body.split_once('=')?;
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            valid.then(|| (name.to_string(), commented, index))
        })
        .collect()
}

/// Every `longrun_*` series the code exports, read from the metric constants.
fn longrun_metric_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = OTHER_LONGRUN_METRICS.map(String::from).into();
    for file in METRIC_FILES {
        for line in read(file).lines() {
            let line = line.trim();
            if !(line.starts_with("pub const") && line.contains("&str = \"")) {
                continue;
            }
            let name = line.split('"').nth(1).expect("a quoted metric name");
            if name.starts_with("longrun_") {
                names.insert(name.to_string());
            }
        }
    }
    assert!(
        names.len() > 10,
        "found only {names:?} in {METRIC_FILES:?}: has the constants' form changed?"
    );
    names
}

/// Identifiers in a PromQL expression, outside string literals.
fn promql_identifiers(expr: &str) -> Vec<&str> {
    let mut identifiers = Vec::new();
    let mut quote = None;
    let mut start = None;
    for (i, c) in expr.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            identifiers.push(&expr[s..i]);
        }
        if matches!(c, '"' | '\'' | '`') {
            quote = Some(c);
        }
    }
    if let Some(s) = start {
        identifiers.push(&expr[s..]);
    }
    identifiers
}

/// The `longrun_*` and `temporal_*` series of `expr` that nothing exports.
fn unknown_metrics(expr: &str, longrun: &BTreeSet<String>) -> Vec<String> {
    let exists = |name: &str| -> bool {
        let known = |base: &str| {
            longrun.contains(base)
                || (base.starts_with("temporal_") && TEMPORAL_SDK_METRICS.contains(&base))
        };
        known(name)
            || ["_bucket", "_count", "_sum"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|base| base.ends_with("_seconds") && known(base))
            })
    };
    promql_identifiers(expr)
        .into_iter()
        .filter(|name| name.starts_with("longrun_") || name.starts_with("temporal_"))
        .filter(|name| !exists(name))
        .map(str::to_string)
        .collect()
}

#[test]
fn compose_services_run_real_longrun_subcommands() {
    let compose = compose();
    let longrun = longrun_services(&compose);
    let mut roles = Vec::new();
    for (name, service) in &longrun {
        let words = command_words(service);
        let first = words
            .first()
            .unwrap_or_else(|| panic!("service {name} has no command"));
        assert!(
            crate::Cli::command().find_subcommand(first).is_some(),
            "service {name}: `{first}` is not a longrun subcommand"
        );
        let argv = std::iter::once("longrun".to_string()).chain(words.iter().cloned());
        if let Err(err) = crate::Cli::try_parse_from(argv) {
            panic!(
                "service {name}: `longrun {}` does not parse: {err}",
                words.join(" ")
            );
        }
        roles.push(first.clone());
    }
    for (role, at_least) in [("migrate", 1), ("api", 2), ("worker", 2)] {
        let count = roles.iter().filter(|r| *r == role).count();
        assert!(
            count >= at_least,
            "{count} service(s) run `longrun {role}`, want {at_least}"
        );
    }
}

#[test]
fn compose_sets_only_real_configuration_variables_and_secrets_come_from_env_file() {
    let compose = compose();
    let known = known_env();
    let mut seen = 0;
    for (name, service) in longrun_services(&compose) {
        for (variable, value) in environment(service) {
            seen += 1;
            assert!(
                known.contains(variable.as_str()),
                "service {name} sets {variable}, which longrun does not read"
            );
            if SECRET_ENV.contains(&variable.as_str()) {
                assert!(
                    value.starts_with(&format!("${{{variable}:")) && value.ends_with('}'),
                    "service {name}: {variable} must come from .env as ${{{variable}:…}}, not {value:?}"
                );
            }
            if variable == "LONGRUN_DATABASE_URL" {
                assert!(
                    value.contains("${POSTGRES_PASSWORD:"),
                    "service {name}: the database password must come from .env"
                );
            }
        }
    }
    assert!(seen > 0, "no longrun service sets any variable");
}

#[test]
fn compose_dependencies_name_existing_services() {
    let compose = compose();
    let services = services(&compose);
    for (name, service) in services {
        let dependencies: Vec<&str> = match &service["depends_on"] {
            Value::Object(map) => map.keys().map(String::as_str).collect(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for dependency in dependencies {
            assert!(
                services.contains_key(dependency) && dependency != name,
                "service {name} depends on {dependency}, which is not another service"
            );
        }
    }
}

#[test]
fn compose_mounts_files_that_exist_and_probes_readiness() {
    let compose = compose();
    for (name, service) in services(&compose) {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let Some(source) = volume.as_str().and_then(|v| v.split(':').next()) else {
                continue;
            };
            if source.starts_with('.') {
                assert!(
                    repo_path(source).exists(),
                    "service {name} mounts {source}, which does not exist"
                );
            }
        }
    }
    for (name, service) in longrun_services(&compose) {
        let role = command_words(service).first().cloned().unwrap_or_default();
        let port = match role.as_str() {
            "api" => "8080",
            "worker" => "9464",
            _ => continue,
        };
        let probe = service["healthcheck"]["test"].to_string();
        assert!(
            probe.contains("/readyz") && probe.contains(port),
            "service {name} ({role}) must probe /readyz on port {port}, has {probe}"
        );
    }
}

#[test]
fn compose_variables_are_documented_in_env_example() {
    let example = read(".env.example");
    let assignments = env_example_assignments(&example);
    let variables = interpolated_variables(&read("temporal-compose.yml"));
    assert!(
        !variables.is_empty(),
        "temporal-compose.yml interpolates nothing"
    );
    for (variable, required) in variables {
        let entry = assignments.iter().find(|(name, ..)| *name == variable);
        let Some((_, commented, _)) = entry else {
            panic!("temporal-compose.yml uses ${variable}, which .env.example does not list");
        };
        assert!(
            !(required && *commented),
            "temporal-compose.yml requires {variable}: .env.example must not comment it out"
        );
    }
}

#[test]
fn env_example_documents_every_configuration_key_with_its_default() {
    let example = read(".env.example");
    let lines: Vec<&str> = example.lines().collect();
    let assignments = env_example_assignments(&example);
    for key in known_env() {
        let Some((_, _, index)) = assignments.iter().find(|(name, ..)| name == key) else {
            panic!(".env.example does not list {key}");
        };
        let comment = index.checked_sub(1).map(|i| lines[i]).unwrap_or_default();
        assert!(
            comment.starts_with(&format!("# {key}:")) && comment.contains("Default"),
            ".env.example: {key} needs a comment line `# {key}: <meaning>. Default …` above it, has {comment:?}"
        );
    }
}

#[test]
fn prometheus_scrapes_every_longrun_process_and_only_existing_services() {
    let compose = compose();
    let services = services(&compose);
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    let mut targets = BTreeSet::new();
    for job in prometheus["scrape_configs"]
        .as_array()
        .expect("scrape_configs")
    {
        for config in job["static_configs"].as_array().into_iter().flatten() {
            for target in config["targets"].as_array().expect("targets") {
                let target = target.as_str().expect("a target is host:port");
                let (host, _port) = target.split_once(':').expect("a target is host:port");
                assert!(
                    services.contains_key(host),
                    "Prometheus scrapes {target}, but there is no service {host}"
                );
                targets.insert(target.to_string());
            }
        }
    }
    for (name, service) in longrun_services(&compose) {
        let role = command_words(service).first().cloned().unwrap_or_default();
        if role == "api" || role == "worker" {
            let target = format!("{name}:9464");
            assert!(
                targets.contains(&target),
                "Prometheus does not scrape {target}"
            );
        }
    }
    for (name, service) in services {
        if let Some((_, endpoint)) = environment(service)
            .into_iter()
            .find(|(variable, _)| variable == "PROMETHEUS_ENDPOINT")
        {
            let port = endpoint.rsplit(':').next().unwrap_or_default();
            let target = format!("{name}:{port}");
            assert!(
                targets.contains(&target),
                "Prometheus does not scrape {target}"
            );
        }
    }
    for rules in prometheus["rule_files"].as_array().expect("rule_files") {
        let file = format!("deploy/prometheus/{}", rules.as_str().expect("a path"));
        assert!(
            repo_path(&file).exists(),
            "prometheus.yml loads {file}, which is missing"
        );
    }
}

#[test]
fn alert_rules_are_complete_and_name_existing_metrics() {
    let longrun = longrun_metric_names();
    let alerts = yaml("deploy/prometheus/alerts.yml");
    let groups = alerts["groups"].as_array().expect("alerts.yml has groups");
    assert!(!groups.is_empty(), "alerts.yml has no group");
    let mut names = BTreeSet::new();
    for group in groups {
        let group_name = group["name"].as_str().expect("every group has a name");
        let rules = group["rules"].as_array().expect("every group has rules");
        assert!(!rules.is_empty(), "group {group_name} has no rule");
        for rule in rules {
            let alert = rule["alert"].as_str().expect("every rule is an alert");
            assert!(names.insert(alert), "alert {alert} is defined twice");
            for field in ["expr", "for"] {
                assert!(
                    rule[field].as_str().is_some_and(|v| !v.trim().is_empty()),
                    "alert {alert} has no {field}"
                );
            }
            for (section, field) in [("labels", "severity"), ("annotations", "summary")] {
                assert!(
                    rule[section][field].as_str().is_some_and(|v| !v.is_empty()),
                    "alert {alert} has no {section}.{field}"
                );
            }
            let unknown = unknown_metrics(rule["expr"].as_str().unwrap_or_default(), &longrun);
            assert!(
                unknown.is_empty(),
                "alert {alert} uses unknown series {unknown:?}"
            );
        }
    }
    for required in [
        "longrun_ready",
        "longrun_ledger_write_failures_total",
        "longrun_llm_errors_total",
    ] {
        assert!(
            alerts.to_string().contains(required),
            "no alert watches {required}"
        );
    }
}

#[test]
fn grafana_dashboard_panels_query_existing_metrics() {
    let longrun = longrun_metric_names();
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/longrun.json"))
        .expect("deploy/grafana/longrun.json is valid JSON");
    assert!(
        dashboard["schemaVersion"].is_u64(),
        "the dashboard has no schemaVersion"
    );
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating");
    assert!(
        variables
            .iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"),
        "the dashboard needs a Prometheus datasource variable"
    );
    // Panels may sit inside collapsed rows.
    let mut panels: Vec<&Value> = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        match panel["panels"].as_array() {
            Some(inner) if panel["type"] == "row" => panels.extend(inner),
            _ if panel["type"] == "row" => {}
            _ => panels.push(panel),
        }
    }
    assert!(
        panels.len() >= 8,
        "the dashboard has {} panels",
        panels.len()
    );
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        let targets = panel["targets"].as_array().filter(|t| !t.is_empty());
        let targets = targets.unwrap_or_else(|| panic!("panel {title} has no targets"));
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !expr.trim().is_empty(),
                "panel {title} has a target without expr"
            );
            let unknown = unknown_metrics(expr, &longrun);
            assert!(
                unknown.is_empty(),
                "panel {title} uses unknown series {unknown:?}"
            );
        }
    }
}

/// The Dockerfile's instructions, continuation lines joined and comments dropped, grouped
/// by stage: (instruction in upper case, arguments).
fn dockerfile_stages() -> Vec<Vec<(String, String)>> {
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    let mut pending = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(continued) = trimmed.strip_suffix('\\') {
            pending.push_str(continued);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let instruction = std::mem::take(&mut pending);
        let (keyword, args) = instruction
            .split_once(char::is_whitespace)
            .unwrap_or((&instruction, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the Dockerfile starts with FROM")
            .push((keyword, args.trim().to_string()));
    }
    stages
}

#[test]
fn dockerfile_builds_with_protoc_and_runs_as_a_non_root_user() {
    let stages = dockerfile_stages();
    assert!(
        stages.len() >= 2,
        "the Dockerfile should have a build and a runtime stage"
    );
    let all = |stage: &[(String, String)], keyword: &str| -> Vec<String> {
        stage
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, args)| args.clone())
            .collect()
    };
    let build = &stages[0];
    let runtime = stages.last().expect("a runtime stage");
    let from = all(build, "FROM").join(" ");
    assert!(
        from.starts_with("rust:") && from.contains("bookworm"),
        "build stage FROM {from}"
    );
    let runs = all(build, "RUN").join("\n");
    assert!(
        runs.contains("protobuf-compiler"),
        "the build stage must install protobuf-compiler"
    );
    assert!(
        runs.contains("cargo build --release --locked --bin longrun"),
        "the build stage must run cargo build --release --locked --bin longrun"
    );
    // The dependency layer builds against stubs: every workspace crate must be stubbed.
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml parses");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("members");
    for member in members
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != ".")
    {
        assert!(
            all(build, "COPY").contains(&format!("{member}/Cargo.toml {member}/"))
                && runs.contains(&format!("{member}/src")),
            "the Dockerfile's dependency layer must copy and stub workspace crate {member}"
        );
    }

    assert!(
        all(runtime, "FROM")
            .join(" ")
            .starts_with("debian:bookworm-slim"),
        "the runtime stage must be debian:bookworm-slim"
    );
    let user = all(runtime, "USER")
        .pop()
        .expect("the runtime stage sets USER");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        name != "root" && name != "0",
        "the runtime stage runs as {user}"
    );
    assert_eq!(all(runtime, "ENTRYPOINT"), ["[\"longrun\"]"]);
    let exposed = all(runtime, "EXPOSE").join(" ");
    for port in ["8080", "9464"] {
        assert!(
            exposed.split_whitespace().any(|p| p == port),
            "EXPOSE lacks {port}"
        );
    }
    let known = known_env();
    let mut set = BTreeSet::new();
    for env in all(runtime, "ENV") {
        for assignment in env.split_whitespace() {
            let (variable, _) = assignment.split_once('=').expect("ENV NAME=value");
            assert!(
                known.contains(variable),
                "the image sets {variable}, which longrun does not read"
            );
            set.insert(variable.to_string());
        }
    }
    for variable in [
        "LONGRUN_LISTEN",
        "LONGRUN_METRICS_LISTEN",
        "LONGRUN_DATA_DIR",
    ] {
        assert!(set.contains(variable), "the image must set {variable}");
    }

    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(|line| line.trim().trim_end_matches('/').to_string())
        .collect();
    for path in ["target", ".venv", ".longrun", ".git", ".env"] {
        assert!(
            ignored.iter().any(|i| i == path),
            ".dockerignore must exclude {path}"
        );
    }
}

#[test]
fn temporal_dynamic_config_enables_fairness() {
    let config = yaml("deploy/temporal/dynamicconfig.yaml");
    for key in ["matching.useNewMatcher", "matching.enableFairness"] {
        let values = config[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} is not set"));
        assert!(
            values.iter().any(|v| v["value"] == true),
            "{key} must be true"
        );
    }
}

#[test]
fn metric_name_checks_reject_misspellings() {
    let longrun = longrun_metric_names();
    let ok = "sum(rate(longrun_llm_call_duration_seconds_count{job=~\"longrun_x\"}[5m])) \
              + temporal_worker_task_slots_available + longrun_ready";
    assert!(
        unknown_metrics(ok, &longrun).is_empty(),
        "{:?}",
        unknown_metrics(ok, &longrun)
    );
    let bad = "rate(longrun_llm_error_total[5m]) + longrun_ready_bucket + temporal_nope";
    assert_eq!(
        unknown_metrics(bad, &longrun),
        [
            "longrun_llm_error_total",
            "longrun_ready_bucket",
            "temporal_nope"
        ]
    );
    assert_eq!(
        interpolated_variables("a ${A:?x} $B $$C $${D} ${E:-f}"),
        [
            ("A".to_string(), true),
            ("B".to_string(), false),
            ("E".to_string(), false)
        ]
    );
}
