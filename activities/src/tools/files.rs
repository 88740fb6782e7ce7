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
mod tests;

#[cfg(test)]
mod properties;
