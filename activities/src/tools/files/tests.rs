//! The file tools against real folders: what they do, and every way a path can try to get
//! out of the sandbox.

use super::*;
use std::os::unix::fs::symlink;

/// A sandbox in `<tmp>/files`, with `<tmp>/outside/secret.txt` beside it.
fn setup() -> (tempfile::TempDir, Sandbox, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(tmp.path().join("files")).unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret.txt"), "top secret").unwrap();
    (tmp, sandbox, outside)
}

async fn ok(outcome: impl std::future::Future<Output = ToolOutcome>) -> String {
    let outcome = outcome.await;
    assert!(!outcome.is_error, "{}", outcome.content);
    outcome.content
}

#[derive(Clone, Copy)]
enum Tool {
    Read,
    Write,
    List,
}

/// One tool call, so cases of several tools fit one table.
async fn call(sandbox: &Sandbox, tool: Tool, input: &Value) -> ToolOutcome {
    match tool {
        Tool::Read => read_file(sandbox, input).await,
        Tool::Write => write_file(sandbox, input).await,
        Tool::List => list_files(sandbox, input).await,
    }
}

async fn refused(outcome: impl std::future::Future<Output = ToolOutcome>, expected: &str) {
    crate::tools::assert_error("a refused call", &outcome.await, "", expected);
}

#[test]
fn concurrent_writes_never_grow_the_folder_past_its_cap() {
    use std::os::unix::fs::PermissionsExt;
    let (tmp, sandbox, _) = setup();
    let mode = fs::metadata(sandbox.root()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the sandbox is private");
    let content = "x".repeat(MAX_WRITE_BYTES);
    let fits = (MAX_SANDBOX_BYTES / MAX_WRITE_BYTES as u64) as usize;
    // Without the lock, several writers pass the size check together near the cap.
    let written: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|worker| {
                let (sandbox, content) = (&sandbox, &content);
                scope.spawn(move || {
                    (0..fits / 8 + 4)
                        .filter(|n| {
                            let input =
                                json!({"path": format!("w{worker}/f{n}"), "content": content});
                            write_sync(sandbox, &input).is_ok()
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(written, fits);
    assert!(folder_size(sandbox.root()).unwrap() <= MAX_SANDBOX_BYTES);
    assert!(
        tmp.path().join("files.lock").exists(),
        "the lock sits outside the folder"
    );
}

#[test]
fn new_creates_the_folder_and_keeps_its_canonical_path() {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(tmp.path().join("a/b/../files")).unwrap();
    assert!(sandbox.root().is_dir());
    assert_eq!(
        sandbox.root(),
        fs::canonicalize(tmp.path().join("a/files")).unwrap()
    );
}

#[tokio::test]
async fn writes_then_reads_a_file_creating_folders() {
    let (_tmp, sandbox, _) = setup();
    let written = ok(write_file(
        &sandbox,
        &json!({"path": "notes/2024/todo.md", "content": "buy milk"}),
    ))
    .await;
    assert_eq!(written, "wrote 8 bytes to notes/2024/todo.md");
    assert_eq!(
        ok(read_file(
            &sandbox,
            &json!({"path": "./notes/2024/todo.md"})
        ))
        .await,
        "buy milk"
    );
    ok(write_file(
        &sandbox,
        &json!({"path": "notes/2024/todo.md", "content": "tea"}),
    ))
    .await;
    assert_eq!(
        ok(read_file(&sandbox, &json!({"path": "notes/2024/todo.md"}))).await,
        "tea"
    );
}

#[tokio::test]
async fn appends_to_a_file_and_creates_it_if_missing() {
    let (_tmp, sandbox, _) = setup();
    let first = ok(write_file(
        &sandbox,
        &json!({"path": "log.txt", "content": "one\n", "append": true}),
    ))
    .await;
    assert_eq!(first, "appended 4 bytes to log.txt");
    ok(write_file(
        &sandbox,
        &json!({"path": "log.txt", "content": "two\n", "append": true}),
    ))
    .await;
    assert_eq!(
        ok(read_file(&sandbox, &json!({"path": "log.txt"}))).await,
        "one\ntwo\n"
    );
}

#[tokio::test]
async fn lists_a_folder_sorted_with_sizes() {
    let (_tmp, sandbox, _) = setup();
    assert_eq!(ok(list_files(&sandbox, &json!({}))).await, "(empty folder)");
    ok(write_file(
        &sandbox,
        &json!({"path": "b.txt", "content": "12345"}),
    ))
    .await;
    ok(write_file(
        &sandbox,
        &json!({"path": "a/inner.txt", "content": ""}),
    ))
    .await;
    ok(write_file(
        &sandbox,
        &json!({"path": "c.txt", "content": "x"}),
    ))
    .await;
    let top = ok(list_files(&sandbox, &json!({}))).await;
    assert_eq!(top, "a/\nb.txt (5 bytes)\nc.txt (1 bytes)");
    assert_eq!(
        ok(list_files(&sandbox, &json!({"path": "a"}))).await,
        "inner.txt (0 bytes)"
    );
    assert_eq!(ok(list_files(&sandbox, &json!({"path": "."}))).await, top);
    for (tool, input, expected) in [
        (Tool::List, json!({"path": "b.txt"}), "is not a folder"),
        (Tool::List, json!({"path": "nope"}), "not found"),
    ] {
        refused(call(&sandbox, tool, &input), expected).await;
    }
}

#[tokio::test]
async fn lists_at_most_a_thousand_entries() {
    let (_tmp, sandbox, _) = setup();
    for i in 0..MAX_LIST_ENTRIES + 5 {
        fs::write(sandbox.root().join(format!("f{i:04}")), "").unwrap();
    }
    let listing = ok(list_files(&sandbox, &json!({}))).await;
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), MAX_LIST_ENTRIES + 1);
    assert_eq!(lines[0], "f0000 (0 bytes)");
    assert_eq!(lines[MAX_LIST_ENTRIES], "[5 more entries not shown]");
}

#[tokio::test]
async fn refuses_paths_that_escape_or_are_malformed() {
    let (_tmp, sandbox, outside) = setup();
    let deep = vec!["d"; MAX_PATH_DEPTH + 1].join("/");
    let long = "x".repeat(MAX_PATH_BYTES + 1);
    let table = [
        ("../x", "may not contain \"..\""),
        ("a/../../x", "may not contain \"..\""),
        ("a/../b", "may not contain \"..\""),
        ("../outside/secret.txt", "may not contain \"..\""),
        ("/etc/passwd", "must be relative"),
        ("a\0b", "NUL byte"),
        ("", "names no file"),
        (".", "names no file"),
        (deep.as_str(), "deeper than 32"),
        (long.as_str(), "longer than 1024 bytes"),
    ];
    for (path, expected) in table {
        refused(read_file(&sandbox, &json!({"path": path})), expected).await;
        refused(
            write_file(&sandbox, &json!({"path": path, "content": "x"})),
            expected,
        )
        .await;
        if !path.is_empty() && path != "." {
            refused(list_files(&sandbox, &json!({"path": path})), expected).await;
        }
    }
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "top secret"
    );
}

#[tokio::test]
async fn refuses_symbolic_links_that_lead_outside() {
    let (tmp, sandbox, outside) = setup();
    symlink(outside.join("secret.txt"), sandbox.root().join("leak.txt")).unwrap();
    symlink(&outside, sandbox.root().join("link")).unwrap();
    fs::create_dir(sandbox.root().join("sub")).unwrap();
    symlink(&outside, sandbox.root().join("sub/deeper")).unwrap();
    symlink(
        tmp.path().join("nowhere.txt"),
        sandbox.root().join("dangling"),
    )
    .unwrap();
    let escapes = "leads outside the workspace's files";
    for path in [
        "leak.txt",
        "link/secret.txt",
        "sub/deeper/secret.txt",
        "link",
    ] {
        refused(read_file(&sandbox, &json!({"path": path})), escapes).await;
        refused(
            write_file(&sandbox, &json!({"path": path, "content": "pwned"})),
            escapes,
        )
        .await;
        refused(list_files(&sandbox, &json!({"path": path})), escapes).await;
    }
    refused(
        write_file(&sandbox, &json!({"path": "link/new.txt", "content": "x"})),
        escapes,
    )
    .await;
    refused(
        write_file(&sandbox, &json!({"path": "link/a/b.txt", "content": "x"})),
        escapes,
    )
    .await;
    refused(
        write_file(&sandbox, &json!({"path": "dangling", "content": "x"})),
        "link to nowhere",
    )
    .await;
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "top secret"
    );
    assert!(!outside.join("new.txt").exists());
    assert!(!outside.join("a").exists());
    assert!(!tmp.path().join("nowhere.txt").exists());
    // Listing the top folder shows links without following them.
    let listing = ok(list_files(&sandbox, &json!({}))).await;
    assert!(listing.contains("link (symbolic link)"), "{listing}");
}

#[tokio::test]
async fn follows_symbolic_links_that_stay_inside() {
    let (_tmp, sandbox, _) = setup();
    ok(write_file(
        &sandbox,
        &json!({"path": "real/file.txt", "content": "inside"}),
    ))
    .await;
    symlink(sandbox.root().join("real"), sandbox.root().join("alias")).unwrap();
    assert_eq!(
        ok(read_file(&sandbox, &json!({"path": "alias/file.txt"}))).await,
        "inside"
    );
    ok(write_file(
        &sandbox,
        &json!({"path": "alias/more.txt", "content": "too"}),
    ))
    .await;
    assert_eq!(
        fs::read_to_string(sandbox.root().join("real/more.txt")).unwrap(),
        "too"
    );
}

#[tokio::test]
async fn reading_a_missing_file_or_a_folder_is_a_clean_error() {
    let (_tmp, sandbox, _) = setup();
    for (tool, input, expected) in [
        (
            Tool::Read,
            json!({"path": "missing.txt"}),
            "not found: \"missing.txt\"",
        ),
        (Tool::Read, json!({"path": "a/b/missing.txt"}), "not found"),
    ] {
        refused(call(&sandbox, tool, &input), expected).await;
    }
    ok(write_file(
        &sandbox,
        &json!({"path": "dir/f.txt", "content": "x"}),
    ))
    .await;
    for (tool, input, expected) in [
        (Tool::Read, json!({"path": "dir"}), "is a folder"),
        (
            Tool::Write,
            json!({"path": "dir", "content": "x"}),
            "is a folder",
        ),
        (
            Tool::Read,
            json!({"path": "dir/f.txt/g"}),
            "is not a folder",
        ),
        (
            Tool::Write,
            json!({"path": "dir/f.txt/g", "content": "x"}),
            "is not a folder",
        ),
    ] {
        refused(call(&sandbox, tool, &input), expected).await;
    }
}

#[tokio::test]
async fn enforces_read_write_and_total_size_caps() {
    let (_tmp, sandbox, _) = setup();
    let too_big = "a".repeat(MAX_WRITE_BYTES + 1);
    refused(
        write_file(&sandbox, &json!({"path": "big.txt", "content": too_big})),
        "\"content\" is 1048577 bytes",
    )
    .await;
    assert!(!sandbox.root().join("big.txt").exists());

    fs::write(
        sandbox.root().join("long.txt"),
        "b".repeat(MAX_READ_BYTES + 10),
    )
    .unwrap();
    let outcome = read_file(&sandbox, &json!({"path": "long.txt"})).await;
    assert!(!outcome.is_error);
    assert!(
        outcome.content.ends_with("[output truncated]"),
        "capped for the model"
    );

    // A sparse file fills the sandbox without using the disk.
    let full = fs::File::create(sandbox.root().join("full.bin")).unwrap();
    full.set_len(MAX_SANDBOX_BYTES - (MAX_READ_BYTES as u64 + 10))
        .unwrap();
    refused(
        write_file(&sandbox, &json!({"path": "one.txt", "content": "x"})),
        "would grow",
    )
    .await;
    refused(
        write_file(
            &sandbox,
            &json!({"path": "long.txt", "content": "x", "append": true}),
        ),
        "would grow",
    )
    .await;
    // Replacing a file counts its old size out.
    ok(write_file(
        &sandbox,
        &json!({"path": "long.txt", "content": "short"}),
    ))
    .await;
}

#[test]
fn read_truncates_at_the_read_cap_and_says_so() {
    let (_tmp, sandbox, _) = setup();
    fs::write(
        sandbox.root().join("long.txt"),
        "b".repeat(MAX_READ_BYTES + 10),
    )
    .unwrap();
    let text = read_sync(&sandbox, &json!({"path": "long.txt"})).unwrap();
    assert!(text.starts_with(&"b".repeat(MAX_READ_BYTES)));
    assert!(
        text.ends_with("the file has 262154 bytes; the first 262144 are shown]"),
        "{}",
        &text[MAX_READ_BYTES..]
    );
}

#[tokio::test]
async fn bad_input_becomes_an_error_result_naming_the_field() {
    let (_tmp, sandbox, _) = setup();
    for (tool, input, expected) in [
        (
            Tool::Read,
            json!("x.txt"),
            "invalid input: expected an object",
        ),
        (Tool::Read, json!({}), "\"path\" (a string) is required"),
        (Tool::Read, json!({"path": 3}), "\"path\" must be a string"),
        (
            Tool::Read,
            json!({"path": "a", "mode": "r"}),
            "unknown field \"mode\"",
        ),
        (
            Tool::Write,
            json!({"path": "a"}),
            "\"content\" (a string) is required",
        ),
        (
            Tool::Write,
            json!({"path": "a", "content": 1}),
            "\"content\" must be a string",
        ),
    ] {
        refused(call(&sandbox, tool, &input), expected).await;
    }
    refused(
        write_file(
            &sandbox,
            &json!({"path": "a", "content": "", "append": "yes"}),
        ),
        "\"append\" must be",
    )
    .await;
    refused(
        list_files(&sandbox, &json!({"path": ["a"]})),
        "\"path\" must be a string",
    )
    .await;
    for schema in [read_file_schema(), write_file_schema(), list_files_schema()] {
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}
