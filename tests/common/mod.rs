//! Test helpers shared by every integration test binary.
//!
//! The kernel-tree harness: the real Linux 4.12 tree from
//! `../shared/kernel/linux-4.12-base.tar.xz` (or `KSERIES_KERNEL_TARBALL`),
//! unpacked once into a cache outside the repository and made a git
//! repository with one base commit.  Tests that need it call
//! [`kernel_tree`]; without the tarball they skip loudly, and with
//! `KSERIES_REQUIRE_KERNEL=1` they fail instead.
#![allow(dead_code)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable that turns a missing kernel tarball into a failure.
pub const REQUIRE_ENV: &str = "KSERIES_REQUIRE_KERNEL";

/// Path of the project root (where Cargo.toml is).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled fixture tree.
pub fn corpus() -> PathBuf {
    project_root().join("corpus")
}

fn tarball() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KSERIES_KERNEL_TARBALL") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let p = project_root().join("../shared/kernel/linux-4.12-base.tar.xz");
    p.is_file().then_some(p)
}

/// Where unpacked trees are cached: `KSERIES_CACHE_DIR`, else the user's
/// cache directory.  Never inside the repository.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("KSERIES_CACHE_DIR") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("kseries")
}

fn require_kernel() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// The path of the unpacked 4.12 tree (a git repository whose HEAD is the
/// pristine base), or `None` after a loud skip message.  Panics when the
/// tarball is missing and `KSERIES_REQUIRE_KERNEL=1`.
///
/// The tree is shared by every test: treat it as read-only and use
/// [`fresh_clone`] for anything that writes.  First waits while real-tree
/// tests of another module of the same binary run (see [`heavy`]).
pub fn kernel_tree() -> Option<PathBuf> {
    heavy::join();
    let Some(tar) = tarball() else {
        let msg = "kernel tarball not found (../shared/kernel/linux-4.12-base.tar.xz \
                   or KSERIES_KERNEL_TARBALL)";
        if require_kernel() {
            panic!("{msg}, and {REQUIRE_ENV}=1 makes that a failure");
        }
        eprintln!();
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPING real-kernel test: {msg}");
        eprintln!("!!! set {REQUIRE_ENV}=1 to make this a failure");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        return None;
    };
    Some(
        unpack_once(&tar)
            .unwrap_or_else(|e| panic!("preparing kernel tree from {}: {e}", tar.display())),
    )
}

/// Unpacks `tar` into the cache unless a complete copy is already there.
///
/// Concurrency: an exclusive file lock serialises test binaries that start
/// at the same time.  Crash safety: the tree is built under `<key>.tmp` and
/// renamed to `<key>` only when complete (git commit included), so a
/// half-done unpack is never mistaken for a tree and is redone.
fn unpack_once(tar: &Path) -> Result<PathBuf, String> {
    let meta = fs::metadata(tar).map_err(|e| e.to_string())?;
    let stem = tar
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("kernel")
        .trim_end_matches(".tar.xz");
    let root = cache_dir().join("kernel");
    fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let key = root.join(format!("{stem}-{}", meta.len()));
    let lock = File::create(root.join(format!("{stem}-{}.lock", meta.len())))
        .map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| format!("locking cache: {e}"))?;
    if let Some(tree) = find_tree(&key) {
        return Ok(tree);
    }
    let tmp = key.with_extension("tmp");
    if tmp.exists() {
        eprintln!(
            "kseries test harness: removing an interrupted unpack at {}",
            tmp.display()
        );
        fs::remove_dir_all(&tmp).map_err(|e| e.to_string())?;
    }
    if key.exists() {
        fs::remove_dir_all(&key).map_err(|e| e.to_string())?;
    }
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    eprintln!(
        "kseries test harness: unpacking {} into {} (once)",
        tar.display(),
        tmp.display()
    );
    run(Command::new("tar").arg("-xJf").arg(tar).arg("-C").arg(&tmp))?;
    let top = single_subdir(&tmp)?;
    git_init_base(&top)?;
    fs::rename(&tmp, &key).map_err(|e| e.to_string())?;
    find_tree(&key).ok_or_else(|| "unpacked tree vanished".to_string())
}

fn find_tree(key: &Path) -> Option<PathBuf> {
    let top = single_subdir(key).ok()?;
    top.join(".git")
        .join("kseries-base-ready")
        .is_file()
        .then_some(top)
}

fn single_subdir(dir: &Path) -> Result<PathBuf, String> {
    let mut dirs = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path());
    match (dirs.next(), dirs.next()) {
        (Some(d), None) => Ok(d),
        _ => Err(format!("expected one top directory in {}", dir.display())),
    }
}

/// `git init`, one commit of everything with a fixed identity and date so
/// that the base commit id is the same on every machine.
fn git_init_base(top: &Path) -> Result<(), String> {
    git(top, &["init", "-q", "-b", "master"])?;
    git(top, &["add", "-A"])?;
    git(
        top,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            "Linux 4.12 (kseries test base)",
        ],
    )?;
    fs::write(top.join(".git").join("kseries-base-ready"), b"ok\n").map_err(|e| e.to_string())
}

/// Runs git in `dir` with a fixed identity, no user or system config.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "kseries test")
        .env("GIT_AUTHOR_EMAIL", "kseries@example.invalid")
        .env("GIT_COMMITTER_NAME", "kseries test")
        .env("GIT_COMMITTER_EMAIL", "kseries@example.invalid")
        .env("GIT_AUTHOR_DATE", "2017-07-02T15:00:00Z")
        .env("GIT_COMMITTER_DATE", "2017-07-02T15:00:00Z");
    run(&mut cmd)
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A private, writable clone of the kernel tree (sharing its objects) in a
/// temporary directory that is removed when the guard drops.
pub fn fresh_clone(tree: &Path) -> (tempfile::TempDir, PathBuf) {
    shared_clone(tree, "kseries-kernel-", &[])
}

/// A clone of the kernel tree without a working tree (checking out 800 MB
/// is the slow part of [`fresh_clone`]), for tests that commit with
/// plumbing.
pub fn clone_without_checkout(tree: &Path, prefix: &str) -> (tempfile::TempDir, PathBuf) {
    shared_clone(tree, prefix, &["--no-checkout"])
}

fn shared_clone(tree: &Path, prefix: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(cache_dir())
        .expect("tempdir in cache");
    let dst = tmp.path().join("linux");
    let (src, dst_s) = (tree.to_str().unwrap(), dst.to_str().unwrap());
    let mut args = vec!["clone", "-q", "--shared"];
    args.extend_from_slice(extra);
    args.extend([src, dst_s]);
    git(tmp.path(), &args).expect("git clone --shared");
    (tmp, dst)
}

/// git in `dir` as the send and trailers tests' submitter (Sender Person
/// committing at a fixed date), no user or system config.
pub fn sender_git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_COMMITTER_NAME", "Sender Person")
        .env("GIT_COMMITTER_EMAIL", "sender@example.org")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000");
    c
}

/// Runs the kseries binary; fails the test with its stderr unless it
/// succeeds.  Returns what it printed on stdout.
pub fn kseries_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_kseries"))
        .args(args)
        .output()
        .expect("run kseries");
    assert!(
        out.status.success(),
        "kseries {:?}: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Copies a directory tree (regular files and directories).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// Serialises the real-tree tests of different source files within one
/// test binary, as separate binaries did before they were merged.
///
/// `cargo test` runs binaries one after another and the tests inside a
/// binary two at a time (on 2 cores): two tests of `boot.rs` booted QEMU
/// side by side, but a boot never met another file's kernel build.  The
/// merged binaries (`tests/kernel`, `tests/bot`) keep that: a test that
/// asks for the kernel tree joins the group named by its module (the
/// first part of its test name, which libtest gives its thread) and
/// waits while another module's real-tree tests run.  Tests that never
/// ask for the tree are not held back.  The membership ends when the
/// test's thread ends (a thread-local guard, so a panic releases it too).
mod heavy {
    use std::cell::RefCell;
    use std::sync::{Condvar, Mutex};

    /// The module whose real-tree tests are running, and how many.
    static ACTIVE: Mutex<(String, usize)> = Mutex::new((String::new(), 0));
    static CHANGED: Condvar = Condvar::new();

    struct Member;

    impl Drop for Member {
        fn drop(&mut self) {
            let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
            active.1 -= 1;
            CHANGED.notify_all();
        }
    }

    thread_local! {
        static MEMBERSHIP: RefCell<Option<Member>> = const { RefCell::new(None) };
    }

    /// Waits until no other module's real-tree test runs, then counts
    /// this thread in until it ends.  Again on the same thread: nothing.
    pub fn join() {
        if MEMBERSHIP.with(|m| m.borrow().is_some()) {
            return;
        }
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("");
        let group = name.split_once("::").map_or(name, |(module, _)| module);
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        while active.1 > 0 && active.0 != group {
            active = CHANGED.wait(active).unwrap_or_else(|e| e.into_inner());
        }
        active.0 = group.to_string();
        active.1 += 1;
        drop(active);
        MEMBERSHIP.with(|m| *m.borrow_mut() = Some(Member));
    }
}
