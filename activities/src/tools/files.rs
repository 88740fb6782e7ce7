//! The file tools (`read_file`, `write_file`, `list_files`): a workspace's own folder of
//! files, which its agents read and write across runs.
//!
//! Everything stays inside the [`Sandbox`] root. Paths are relative, without `..`; every
//! existing component is looked at without following links, and a symbolic link is followed
//! only when its target, fully resolved, is still inside the root. Nothing here may ever read,
//! write, create or list a file outside it, nor grow the folder past [`MAX_SANDBOX_BYTES`].

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};

use longrun_workflows::payloads::ToolOutcome;

/// Longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Most components a path may have.
pub const MAX_PATH_DEPTH: usize = 32;
/// Most of a file returned by `read_file`, in bytes.
pub const MAX_READ_BYTES: usize = 256 * 1024;
/// Largest content `write_file` accepts, in bytes.
pub const MAX_WRITE_BYTES: usize = 1024 * 1024;
/// Largest total size of a sandbox's files, in bytes.
pub const MAX_SANDBOX_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries `list_files` returns.
pub const MAX_LIST_ENTRIES: usize = 1000;

pub const READ_FILE_DESCRIPTION: &str = "Reads a text file from the workspace's files and \
     returns its content (cut at 256 KiB).";
pub const WRITE_FILE_DESCRIPTION: &str = "Writes (or appends) text to a file in the \
     workspace's files, creating missing folders. Content up to 1 MiB.";
pub const LIST_FILES_DESCRIPTION: &str = "Lists a folder of the workspace's files: one entry \
     a line, `name/` for folders and `name (N bytes)` for files.";

fn path_schema(description: &str) -> Value {
    json!({"type": "string", "description": description, "maxLength": MAX_PATH_BYTES})
}

/// The JSON schema of `read_file`.
pub fn read_file_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"path": path_schema("A relative path, such as notes/todo.md.")},
        "required": ["path"],
        "additionalProperties": false
    })
}

/// The JSON schema of `write_file`.
pub fn write_file_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": path_schema("A relative path, such as notes/todo.md."),
            "content": {"type": "string", "maxLength": MAX_WRITE_BYTES},
            "append": {"type": "boolean", "default": false}
        },
        "required": ["path", "content"],
        "additionalProperties": false
    })
}

/// The JSON schema of `list_files`.
pub fn list_files_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"path": path_schema("A relative folder path; the top folder if omitted.")},
        "additionalProperties": false
    })
}

/// A workspace's folder of files; the only place the file tools touch.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Canonical: no symbolic link, no `.` or `..`.
    root: PathBuf,
}

impl Sandbox {
    /// Creates the folder if needed (`<data dir>/workspaces/<workspace id>/files`), private to
    /// the process's user (0700).
    pub fn new(root: PathBuf) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)?;
        let sandbox = Self {
            root: fs::canonicalize(&root)?,
        };
        // Made once here, so writes only ever open it.
        sandbox.open_lock_file()?;
        Ok(sandbox)
    }

    /// The lock file sits beside the folder (`files.lock`), where no tool can see or touch it.
    fn open_lock_file(&self) -> io::Result<fs::File> {
        let mut name = self.root.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.with_file_name(name))
    }

    /// An exclusive lock on the sandbox for one write, held until the returned file drops.
    fn write_lock(&self) -> io::Result<fs::File> {
        let file = self.open_lock_file()?;
        file.lock()?;
        Ok(file)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("refused: {0:?} leads outside the workspace's files")]
    Escapes(String),
    #[error("refused: {0:?} goes through a symbolic link to nowhere")]
    BrokenLink(String),
    #[error("not found: {0:?}")]
    NotFound(String),
    #[error("{0:?} is a folder, not a file")]
    IsAFolder(String),
    #[error("{0:?} is not a folder")]
    NotAFolder(String),
    #[error("{0:?} is not a regular file")]
    NotAFile(String),
    #[error("refused: {0}")]
    TooLarge(String),
    #[error("{path:?}: {source}")]
    Io { path: String, source: io::Error },
    #[error("the file task failed: {0}")]
    Task(String),
}

fn io_error(path: &str) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| match source.kind() {
        io::ErrorKind::NotFound => FileError::NotFound(path.to_string()),
        io::ErrorKind::NotADirectory => FileError::NotAFolder(path.to_string()),
        _ => FileError::Io {
            path: path.to_string(),
            source,
        },
    }
}

/// The input as an object holding only `allowed` fields.
fn fields<'a>(input: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, FileError> {
    let map = input
        .as_object()
        .ok_or_else(|| FileError::Invalid("expected an object".into()))?;
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(unknown) => Err(FileError::Invalid(format!("unknown field {unknown:?}"))),
        None => Ok(map),
    }
}

fn string_field<'a>(map: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, FileError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(FileError::Invalid(format!("\"{name}\" must be a string"))),
    }
}

fn required<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str, FileError> {
    string_field(map, name)?
        .ok_or_else(|| FileError::Invalid(format!("\"{name}\" (a string) is required")))
}

/// The path's components, judged without touching the disk.
fn components(path: &str, allow_top: bool) -> Result<Vec<&std::ffi::OsStr>, FileError> {
    let invalid = |why: &str| Err(FileError::Invalid(format!("\"path\" {why}")));
    if path.len() > MAX_PATH_BYTES {
        return invalid(&format!("is longer than {MAX_PATH_BYTES} bytes"));
    }
    if path.contains('\0') {
        return invalid("contains a NUL byte");
    }
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => return invalid("may not contain \"..\""),
            Component::RootDir | Component::Prefix(_) => return invalid("must be relative"),
        }
    }
    if parts.len() > MAX_PATH_DEPTH {
        return invalid(&format!("is deeper than {MAX_PATH_DEPTH} folders"));
    }
    if parts.is_empty() && !allow_top {
        return invalid("names no file");
    }
    Ok(parts)
}

/// Where a path leads: the longest existing part, canonical and inside the root, and the
/// components after it that do not exist yet.
struct Resolved<'a> {
    existing: PathBuf,
    missing: &'a [&'a std::ffi::OsStr],
}

fn resolve<'a>(
    sandbox: &Sandbox,
    path: &str,
    parts: &'a [&'a std::ffi::OsStr],
) -> Result<Resolved<'a>, FileError> {
    let mut current = sandbox.root.clone();
    for (index, part) in parts.iter().enumerate() {
        let next = current.join(part);
        match fs::symlink_metadata(&next) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(Resolved {
                    existing: current,
                    missing: &parts[index..],
                });
            }
            Err(err) => return Err(io_error(path)(err)),
            Ok(meta) if meta.file_type().is_symlink() => {
                // A dangling link could be created through, wherever it points: refuse it.
                let target =
                    fs::canonicalize(&next).map_err(|_| FileError::BrokenLink(path.to_string()))?;
                if !target.starts_with(&sandbox.root) {
                    return Err(FileError::Escapes(path.to_string()));
                }
                current = target;
            }
            Ok(_) => current = next,
        }
    }
    Ok(Resolved {
        existing: current,
        missing: &[],
    })
}

fn read_sync(sandbox: &Sandbox, input: &Value) -> Result<String, FileError> {
    let path = required(fields(input, &["path"])?, "path")?;
    let parts = components(path, false)?;
    let resolved = resolve(sandbox, path, &parts)?;
    if !resolved.missing.is_empty() {
        return Err(FileError::NotFound(path.to_string()));
    }
    let meta = fs::metadata(&resolved.existing).map_err(io_error(path))?;
    if meta.is_dir() {
        return Err(FileError::IsAFolder(path.to_string()));
    }
    if !meta.is_file() {
        // A FIFO or a device would block or never end.
        return Err(FileError::NotAFile(path.to_string()));
    }
    let file = fs::File::open(&resolved.existing).map_err(io_error(path))?;
    let mut bytes = Vec::new();
    file.take(MAX_READ_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    let truncated = bytes.len() > MAX_READ_BYTES;
    bytes.truncate(MAX_READ_BYTES);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if truncated {
        text.push_str(&format!(
            "\n[truncated: the file has {} bytes; the first {MAX_READ_BYTES} are shown]",
            meta.len()
        ));
    }
    Ok(text)
}

fn write_sync(sandbox: &Sandbox, input: &Value) -> Result<String, FileError> {
    let map = fields(input, &["path", "content", "append"])?;
    let path = required(map, "path")?;
    let content = required(map, "content")?;
    let append = match map.get("append") {
        None => false,
        Some(Value::Bool(append)) => *append,
        Some(_) => {
            return Err(FileError::Invalid(
                "\"append\" must be true or false".into(),
            ));
        }
    };
    if content.len() > MAX_WRITE_BYTES {
        return Err(FileError::TooLarge(format!(
            "\"content\" is {} bytes; at most {MAX_WRITE_BYTES} are written at once",
            content.len()
        )));
    }
    let parts = components(path, false)?;
    // Writers of one sandbox take turns, across processes too: the size check and the write
    // must see the same folder, or two writes could each pass the check and together exceed
    // the cap.
    let _turn = sandbox.write_lock().map_err(io_error(path))?;
    let resolved = resolve(sandbox, path, &parts)?;
    let existing_len = match resolved.missing {
        [] => {
            let meta = fs::metadata(&resolved.existing).map_err(io_error(path))?;
            if meta.is_dir() {
                return Err(FileError::IsAFolder(path.to_string()));
            }
            if !meta.is_file() {
                return Err(FileError::NotAFile(path.to_string()));
            }
            meta.len()
        }
        _ => 0,
    };
    let total = folder_size(&sandbox.root).map_err(io_error(path))?;
    let kept = if append {
        total
    } else {
        total.saturating_sub(existing_len)
    };
    let after = kept + content.len() as u64;
    if after > MAX_SANDBOX_BYTES {
        return Err(FileError::TooLarge(format!(
            "the workspace's files would grow to {after} bytes; at most {MAX_SANDBOX_BYTES} are kept"
        )));
    }
    let mut options = fs::OpenOptions::new();
    options.write(true);
    let target = match resolved.missing.split_last() {
        None => {
            options.append(append).truncate(!append);
            resolved.existing
        }
        Some((file_name, folders)) => {
            let mut folder = resolved.existing;
            for name in folders {
                folder.push(name);
                match fs::create_dir(&folder) {
                    Err(err) if err.kind() != io::ErrorKind::AlreadyExists => {
                        return Err(io_error(path)(err));
                    }
                    _ => {}
                }
                // Made by us or by a racing writer: either way it must be a real folder.
                let meta = fs::symlink_metadata(&folder).map_err(io_error(path))?;
                if !meta.is_dir() {
                    return Err(FileError::NotAFolder(path.to_string()));
                }
            }
            // `create_new` does not follow a link that appeared since the check.
            options.create_new(true);
            folder.join(file_name)
        }
    };
    let mut file = options.open(&target).map_err(io_error(path))?;
    file.write_all(content.as_bytes()).map_err(io_error(path))?;
    let verb = if append { "appended" } else { "wrote" };
    Ok(format!("{verb} {} bytes to {path}", content.len()))
}

/// Total size of the files under `folder`, links not followed.
fn folder_size(folder: &Path) -> io::Result<u64> {
    let mut total = 0;
    let mut pending = vec![folder.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder)? {
            let entry = entry?;
            let meta = fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

fn list_sync(sandbox: &Sandbox, input: &Value) -> Result<String, FileError> {
    let path = string_field(fields(input, &["path"])?, "path")?.unwrap_or(".");
    let parts = components(path, true)?;
    let resolved = resolve(sandbox, path, &parts)?;
    if !resolved.missing.is_empty() {
        return Err(FileError::NotFound(path.to_string()));
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(&resolved.existing).map_err(io_error(path))? {
        let entry = entry.map_err(io_error(path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = fs::symlink_metadata(entry.path()).map_err(io_error(path))?;
        entries.push(if meta.is_dir() {
            format!("{name}/")
        } else if meta.file_type().is_symlink() {
            format!("{name} (symbolic link)")
        } else {
            format!("{name} ({} bytes)", meta.len())
        });
    }
    if entries.is_empty() {
        return Ok("(empty folder)".into());
    }
    entries.sort();
    let hidden = entries.len().saturating_sub(MAX_LIST_ENTRIES);
    entries.truncate(MAX_LIST_ENTRIES);
    let mut text = entries.join("\n");
    if hidden > 0 {
        text.push_str(&format!("\n[{hidden} more entries not shown]"));
    }
    Ok(text)
}

/// Runs blocking file work off the async threads and turns its result into a tool result.
async fn blocking(
    sandbox: &Sandbox,
    input: &Value,
    work: fn(&Sandbox, &Value) -> Result<String, FileError>,
) -> ToolOutcome {
    let (sandbox, input) = (sandbox.clone(), input.clone());
    let result = tokio::task::spawn_blocking(move || work(&sandbox, &input))
        .await
        .unwrap_or_else(|err| Err(FileError::Task(err.to_string())));
    match result {
        Ok(text) => ToolOutcome {
            content: super::cap_output(text),
            is_error: false,
        },
        Err(err) => super::error(&err.to_string()),
    }
}

/// `read_file {path}`.
pub async fn read_file(sandbox: &Sandbox, input: &Value) -> ToolOutcome {
    blocking(sandbox, input, read_sync).await
}

/// `write_file {path, content, append?}`.
pub async fn write_file(sandbox: &Sandbox, input: &Value) -> ToolOutcome {
    blocking(sandbox, input, write_sync).await
}

/// `list_files {path?}`.
pub async fn list_files(sandbox: &Sandbox, input: &Value) -> ToolOutcome {
    blocking(sandbox, input, list_sync).await
}

#[cfg(test)]
mod tests {
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

    async fn refused(outcome: impl std::future::Future<Output = ToolOutcome>, expected: &str) {
        let outcome = outcome.await;
        assert!(
            outcome.is_error,
            "expected an error, got {}",
            outcome.content
        );
        assert!(
            outcome.content.contains(expected),
            "{expected:?} not in {:?}",
            outcome.content
        );
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
        refused(
            list_files(&sandbox, &json!({"path": "b.txt"})),
            "is not a folder",
        )
        .await;
        refused(list_files(&sandbox, &json!({"path": "nope"})), "not found").await;
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
        refused(
            read_file(&sandbox, &json!({"path": "missing.txt"})),
            "not found: \"missing.txt\"",
        )
        .await;
        refused(
            read_file(&sandbox, &json!({"path": "a/b/missing.txt"})),
            "not found",
        )
        .await;
        ok(write_file(
            &sandbox,
            &json!({"path": "dir/f.txt", "content": "x"}),
        ))
        .await;
        refused(read_file(&sandbox, &json!({"path": "dir"})), "is a folder").await;
        refused(
            write_file(&sandbox, &json!({"path": "dir", "content": "x"})),
            "is a folder",
        )
        .await;
        refused(
            read_file(&sandbox, &json!({"path": "dir/f.txt/g"})),
            "is not a folder",
        )
        .await;
        refused(
            write_file(&sandbox, &json!({"path": "dir/f.txt/g", "content": "x"})),
            "is not a folder",
        )
        .await;
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
        refused(
            read_file(&sandbox, &json!("x.txt")),
            "invalid input: expected an object",
        )
        .await;
        refused(
            read_file(&sandbox, &json!({})),
            "\"path\" (a string) is required",
        )
        .await;
        refused(
            read_file(&sandbox, &json!({"path": 3})),
            "\"path\" must be a string",
        )
        .await;
        refused(
            read_file(&sandbox, &json!({"path": "a", "mode": "r"})),
            "unknown field \"mode\"",
        )
        .await;
        refused(
            write_file(&sandbox, &json!({"path": "a"})),
            "\"content\" (a string) is required",
        )
        .await;
        refused(
            write_file(&sandbox, &json!({"path": "a", "content": 1})),
            "\"content\" must be a string",
        )
        .await;
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
}

#[cfg(test)]
mod properties;
