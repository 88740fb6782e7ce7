//! Property tests of the sandbox: no path, however made, reads, writes or lists anything
//! outside it; plain nested paths inside work.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;

use proptest::prelude::*;

use super::*;

/// What the secret file outside the sandbox holds; no read may ever return it.
const SECRET: &str = "SECRET-MARKER-d41d8";
/// A name that exists only outside the sandbox; no listing may ever show it.
const ONLY_OUTSIDE: &str = "only-outside-7f3a";

/// `<tmp>/files` (the sandbox) with folders, files and links of every kind, beside
/// `<tmp>/outside` and `<tmp>/files-evil` (a sibling whose name starts like the root's).
fn fixture() -> (tempfile::TempDir, Sandbox) {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(tmp.path().join("files")).unwrap();
    let root = sandbox.root().to_path_buf();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret.txt"), SECRET).unwrap();
    fs::write(outside.join(ONLY_OUTSIDE), SECRET).unwrap();
    fs::create_dir(tmp.path().join("files-evil")).unwrap();
    fs::write(tmp.path().join("files-evil/secret.txt"), SECRET).unwrap();
    fs::create_dir(root.join("dir")).unwrap();
    fs::write(root.join("dir/inner.txt"), "inside").unwrap();
    for (link, target) in [
        ("link_in", PathBuf::from("dir")),
        ("link_self", PathBuf::from(".")),
        ("link_up", PathBuf::from("..")),
        ("link_out", PathBuf::from("../outside")),
        ("link_out_abs", outside.clone()),
        ("link_file_out", PathBuf::from("../outside/secret.txt")),
        ("link_chain", PathBuf::from("link_out")),
        ("link_sibling", PathBuf::from("../files-evil")),
        ("dangling", PathBuf::from("../nowhere.txt")),
        ("link_loop", PathBuf::from("link_loop")),
        ("dir/back_out", PathBuf::from("../../outside")),
        ("dir/back_in", PathBuf::from("../dir")),
    ] {
        symlink(target, root.join(link)).unwrap();
    }
    (tmp, sandbox)
}

/// Everything under `<tmp>` but the sandbox: names, kinds, contents, link targets.
fn outside_snapshot(tmp: &Path) -> BTreeMap<PathBuf, String> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![tmp.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path == tmp.join("files") {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            let what = if meta.is_dir() {
                pending.push(path.clone());
                "folder".to_string()
            } else if meta.file_type().is_symlink() {
                format!("link to {:?}", fs::read_link(&path).unwrap())
            } else {
                fs::read_to_string(&path).unwrap()
            };
            seen.insert(path, what);
        }
    }
    seen
}

/// Whether a regular file holding exactly `content` is somewhere under `folder`
/// (links not followed).
fn holds_file_with(folder: &Path, content: &str) -> bool {
    let mut pending = vec![folder.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file()
                && fs::read_to_string(&path)
                    .unwrap_or_default()
                    .contains(content)
            {
                return true;
            }
        }
    }
    false
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "..", ".", "", "dir", "inner.txt", "new", "new.txt", "link_in", "link_self",
            "link_up", "link_out", "link_out_abs", "link_file_out", "link_chain",
            "link_sibling", "dangling", "link_loop", "back_out", "back_in", "outside",
            "secret.txt", "files", "files-evil", "é", "日本", "~", "...", "%2e%2e", "\\",
            "..\\..", " ", "a\0b",
        ])
        .prop_map(str::to_string),
        1 => "[a-zé日 ._-]{1,12}",
        1 => (250usize..260).prop_map(|n| "n".repeat(n)),
    ]
}

#[derive(Debug, Clone)]
enum Start {
    Relative,
    Slash,
    Dot,
    /// The absolute path of the folder beside the sandbox.
    AbsoluteOutside,
    /// The absolute path of the sandbox itself: still refused, paths are relative.
    AbsoluteRoot,
}

fn path() -> impl Strategy<Value = (Start, Vec<String>, bool)> {
    (
        prop_oneof![
            6 => Just(Start::Relative),
            1 => Just(Start::Slash),
            1 => Just(Start::Dot),
            1 => Just(Start::AbsoluteOutside),
            1 => Just(Start::AbsoluteRoot),
        ],
        prop::collection::vec(component(), 0..6),
        any::<bool>(),
    )
}

fn render(
    tmp: &Path,
    sandbox: &Sandbox,
    (start, parts, trailing): &(Start, Vec<String>, bool),
) -> String {
    let mut path = match start {
        Start::Relative => String::new(),
        Start::Slash => "/".into(),
        Start::Dot => "./".into(),
        Start::AbsoluteOutside => format!("{}/", tmp.join("outside").display()),
        Start::AbsoluteRoot => format!("{}/", sandbox.root().display()),
    };
    path.push_str(&parts.join("/"));
    if *trailing {
        path.push('/');
    }
    path
}

#[derive(Debug, Clone)]
enum Op {
    Read,
    Write { append: bool },
    List,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Read),
        any::<bool>().prop_map(|append| Op::Write { append }),
        Just(Op::List),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_path_reads_writes_or_lists_anything_outside_the_sandbox(
        ops in prop::collection::vec((op(), path()), 1..6),
    ) {
        let (tmp, sandbox) = fixture();
        let before = outside_snapshot(tmp.path());
        for (n, (op, path)) in ops.iter().enumerate() {
            let path = render(tmp.path(), &sandbox, path);
            match op {
                Op::Read => {
                    if let Ok(text) = read_sync(&sandbox, &json!({"path": path})) {
                        prop_assert!(!text.contains(SECRET), "read {:?} leaked: {}", path, text);
                    }
                }
                Op::Write { append } => {
                    let content = format!("written-by-op-{n}");
                    let input = json!({"path": path, "content": content, "append": append});
                    if write_sync(&sandbox, &input).is_ok() {
                        prop_assert!(
                            holds_file_with(sandbox.root(), &content),
                            "write to {:?} succeeded but nothing in the sandbox holds it", path
                        );
                    }
                }
                Op::List => {
                    if let Ok(text) = list_sync(&sandbox, &json!({"path": path})) {
                        prop_assert!(!text.contains(ONLY_OUTSIDE), "list {:?} leaked: {}", path, text);
                    }
                }
            }
            prop_assert_eq!(&outside_snapshot(tmp.path()), &before, "after {:?} {:?}", op, path);
        }
    }

    #[test]
    fn a_path_with_dot_dot_or_a_root_or_a_nul_is_refused_before_the_disk(
        (start, mut parts, trailing) in path(),
        bad in prop::sample::select(vec!["..", "a\0b", "\0"]),
        at in any::<prop::sample::Index>(),
    ) {
        let (tmp, sandbox) = fixture();
        parts.insert(at.index(parts.len() + 1), bad.to_string());
        let path = render(tmp.path(), &sandbox, &(start, parts, trailing));
        prop_assert!(matches!(components(&path, true), Err(FileError::Invalid(_))), "{:?}", path);
    }
}

/// A folder or file name that is not `.` or `..`, up to the 255 bytes Linux allows.
fn plain_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9é日😀 _.,'()+=-]{1,24}",
        1 => (1usize..=255).prop_map(|n| "L".repeat(n)),
        1 => (1usize..=63).prop_map(|n| "é日".repeat(n).chars().take(n).collect()),
    ]
    .prop_filter("not . or ..", |name| name != "." && name != "..")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn nested_paths_inside_are_written_read_and_listed(
        names in prop::collection::vec(plain_name(), 1..8),
        content in "[^\0]{0,64}",
        dot_slash in any::<bool>(),
    ) {
        let path = format!("{}{}", if dot_slash { "./" } else { "" }, names.join("/"));
        prop_assume!(path.len() <= MAX_PATH_BYTES);
        let tmp = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::new(tmp.path().join("files")).unwrap();
        symlink(".", sandbox.root().join("link_self")).unwrap();
        let written = write_sync(&sandbox, &json!({"path": path, "content": content}));
        prop_assert!(written.is_ok(), "{:?}: {:?}", path, written);
        let on_disk = names.iter().fold(sandbox.root().to_path_buf(), |p, n| p.join(n));
        prop_assert_eq!(fs::read_to_string(&on_disk).unwrap(), content.clone());
        let read = read_sync(&sandbox, &json!({"path": path}));
        prop_assert_eq!(read.ok(), Some(content.clone()));
        let (file, folders) = names.split_last().unwrap();
        let folder = if folders.is_empty() { ".".to_string() } else { folders.join("/") };
        let listing = list_sync(&sandbox, &json!({"path": folder})).unwrap();
        let entry = format!("{file} ({} bytes)", content.len());
        prop_assert!(listing.lines().any(|line| line == entry), "{:?} not in {:?}", entry, listing);
        // Through a link that stays inside, the same file is reached.
        let via_link = format!("link_self/{}", names.join("/"));
        if via_link.len() <= MAX_PATH_BYTES {
            prop_assert_eq!(read_sync(&sandbox, &json!({"path": via_link})).ok(), Some(content));
        }
    }
}
