//! Who each patch goes to.
//!
//! As b4 does, the tree's own `scripts/get_maintainer.pl` decides by
//! default; the native MAINTAINERS parser ([`super::maintainers`], the
//! same address sets, measured equal on 4.12) is the fallback when the
//! tree has no script or no perl, and the fast choice when asked for.
//! Then `--to`/`--cc` and git send-email's `--to-cmd`/`--cc-cmd` hooks add
//! their addresses.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::SeriesError;
use super::maintainers::{Maintainers, Recipients};

/// Where the maintainers of a patch come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaintainerSource {
    /// The tree's `scripts/get_maintainer.pl` when it has one and perl
    /// runs, else the native parser.
    #[default]
    Auto,
    /// `scripts/get_maintainer.pl`; an error when the tree has none.
    Script,
    /// kseries' own MAINTAINERS parser: the same addresses, ~100x faster.
    Native,
    /// Nobody: only `--to`, `--cc` and the hooks.
    None,
}

/// The path of the script, relative to the top of the tree.
pub const SCRIPT: &str = "scripts/get_maintainer.pl";

/// get_maintainer's options: no git history, as b4 and the kernel's
/// documentation recommend for sending; roles kept, to tell lists apart.
const SCRIPT_ARGS: &[&str] = &["--no-git", "--no-git-fallback"];

enum Resolved {
    Script,
    Native(Box<Maintainers>),
    Nobody,
}

/// Finds the recipients of patch files.
pub struct Finder {
    tree: PathBuf,
    source: Resolved,
    to_cmd: Option<String>,
    cc_cmd: Option<String>,
}

impl Finder {
    /// Resolves `source` for `tree` (reading MAINTAINERS when the native
    /// parser is used).
    pub fn new(
        tree: &Path,
        source: MaintainerSource,
        to_cmd: Option<String>,
        cc_cmd: Option<String>,
    ) -> Result<Finder, SeriesError> {
        let script_runs = || tree.join(SCRIPT).is_file() && perl_runs();
        let resolved = match source {
            MaintainerSource::Script if !tree.join(SCRIPT).is_file() => {
                return Err(SeriesError::NoScript {
                    tree: tree.to_path_buf(),
                    script: SCRIPT,
                });
            }
            MaintainerSource::Script => Resolved::Script,
            MaintainerSource::Auto if script_runs() => Resolved::Script,
            MaintainerSource::Auto | MaintainerSource::Native => {
                if !tree.join("MAINTAINERS").is_file() {
                    return Err(SeriesError::NoMaintainers(tree.to_path_buf()));
                }
                Resolved::Native(Box::new(Maintainers::load(tree)?))
            }
            MaintainerSource::None => Resolved::Nobody,
        };
        Ok(Finder {
            tree: tree.to_path_buf(),
            source: resolved,
            to_cmd,
            cc_cmd,
        })
    }

    /// What decides, for the report.
    pub fn name(&self) -> &'static str {
        match self.source {
            Resolved::Script => SCRIPT,
            Resolved::Native(_) => "MAINTAINERS (native parser)",
            Resolved::Nobody => "none",
        }
    }

    /// The maintainers (To) and lists (Cc) of the patch in `file`, whose
    /// text is `text`, as get_maintainer.pl reads it.
    pub fn maintainers(&self, file: &Path, text: &str) -> Result<Recipients, SeriesError> {
        match &self.source {
            Resolved::Native(m) => Ok(m.for_patch(text)),
            Resolved::Script => self.run_script(file),
            Resolved::Nobody => Ok(Recipients::default()),
        }
    }

    /// The same for a patch not written to a file yet.
    pub fn maintainers_of_text(&self, text: &str) -> Result<Recipients, SeriesError> {
        match &self.source {
            Resolved::Script => {
                let mut f = tempfile::NamedTempFile::new().map_err(|source| SeriesError::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
                std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|source| {
                    SeriesError::Io {
                        path: f.path().to_path_buf(),
                        source,
                    }
                })?;
                self.run_script(f.path())
            }
            _ => self.maintainers(Path::new(""), text),
        }
    }

    /// What `--to-cmd` and `--cc-cmd` print for `file`.
    pub fn hooks(&self, file: &Path) -> Result<Recipients, SeriesError> {
        let mut r = Recipients::default();
        if let Some(cmd) = &self.to_cmd {
            r.to = run_hook("--to-cmd", cmd, &self.tree, file)?;
        }
        if let Some(cmd) = &self.cc_cmd {
            r.cc = run_hook("--cc-cmd", cmd, &self.tree, file)?;
        }
        Ok(r)
    }

    fn run_script(&self, file: &Path) -> Result<Recipients, SeriesError> {
        let mut cmd = Command::new("perl");
        // get_maintainer.pl orders people of equal rank by walking Perl
        // hashes, whose order changes with every run; a fixed seed makes the
        // same tree give the same To: line, so a resend or a diff of two
        // runs shows only what really changed.
        cmd.current_dir(&self.tree)
            .env("PERL_HASH_SEED", "0")
            .arg(SCRIPT)
            .args(SCRIPT_ARGS)
            .arg(file);
        let out = stdout_of(&mut cmd, &format!("{SCRIPT} {}", file.display()))?;
        Ok(parse_script_output(&out))
    }
}

fn perl_runs() -> bool {
    Command::new("perl")
        .arg("-e1")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// get_maintainer.pl's lines with roles, `Name <addr> (maintainer:X)` or
/// `list@x (open list:X)`: lists are Cc, everybody else To.
pub fn parse_script_output(out: &str) -> Recipients {
    let mut r = Recipients::default();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (addr, role) = match trailing_group(line) {
            Some(open) => (line[..open].trim(), &line[open + 1..line.len() - 1]),
            None => (line, ""),
        };
        let list = role == "list"
            || role.starts_with("list:")
            || role.ends_with(" list")
            || role.contains(" list:");
        let v = if list { &mut r.cc } else { &mut r.to };
        if !v.iter().any(|x| x == addr) {
            v.push(addr.to_string());
        }
    }
    r
}

/// Where the parenthesised group that ends `line` opens (roles may hold
/// parentheses themselves: `(supporter:KERNEL VIRTUAL MACHINE (KVM))`).
fn trailing_group(line: &str) -> Option<usize> {
    if !line.ends_with(')') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    // A role follows the address, after a space.
                    return (i > 0 && line[..i].ends_with(' ')).then_some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Runs a hook the way git send-email does, `CMD FILE` through the shell
/// in the tree, and takes every non-empty line of its output as an
/// address.
fn run_hook(flag: &str, cmd: &str, tree: &Path, file: &Path) -> Result<Vec<String>, SeriesError> {
    let mut sh = Command::new("sh");
    sh.current_dir(tree)
        .arg("-c")
        .arg(format!("{cmd} \"$1\""))
        .arg("sh")
        .arg(file);
    let out = stdout_of(&mut sh, &format!("{flag} {cmd:?} on {}", file.display()))?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// What `cmd` prints, or an error naming `what` with its exit status and
/// what it said on stderr.
fn stdout_of(cmd: &mut Command, what: &str) -> Result<String, SeriesError> {
    let out = cmd
        .output()
        .map_err(|e| SeriesError::Command(format!("{what}: cannot run it: {e}")))?;
    if !out.status.success() {
        return Err(SeriesError::Command(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The email address of `Name <addr>` or of a bare address, lowercased.
fn address_key(a: &str) -> String {
    let a = a.trim();
    let inner = match (a.rfind('<'), a.rfind('>')) {
        (Some(l), Some(r)) if l < r => &a[l + 1..r],
        _ => a,
    };
    inner.trim().to_ascii_lowercase()
}

/// Adds `more` to `list`, each address once (compared case-insensitively
/// by address, as mail is delivered).
pub fn add_unique(list: &mut Vec<String>, more: &[String]) {
    for m in more {
        let k = address_key(m);
        if !list.iter().any(|x| address_key(x) == k) {
            list.push(m.clone());
        }
    }
}

/// `to` and `cc` merged, nobody in both (To wins).
pub fn merge(parts: &[&Recipients]) -> Recipients {
    let mut r = Recipients::default();
    for p in parts {
        add_unique(&mut r.to, &p.to);
    }
    for p in parts {
        for a in &p.cc {
            if !r.to.iter().any(|x| address_key(x) == address_key(a)) {
                add_unique(&mut r.cc, std::slice::from_ref(a));
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_roles_split_people_from_lists() {
        let out = "Paolo Bonzini <pbonzini@redhat.com> (supporter:KERNEL VIRTUAL MACHINE (KVM))\n\
                   \"H. Peter Anvin\" <hpa@zytor.com> (maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT))\n\
                   x86@kernel.org (maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT))\n\
                   Ann (Acme) <ann@acme.org> (reviewer:ACME)\n\
                   kvm@vger.kernel.org (open list:KERNEL VIRTUAL MACHINE (KVM))\n\
                   linux-arm-kernel@lists.infradead.org (moderated list:ARM PORT)\n\
                   linux-kernel@vger.kernel.org (open list)\n";
        let r = parse_script_output(out);
        assert_eq!(
            r.to,
            vec![
                "Paolo Bonzini <pbonzini@redhat.com>",
                "\"H. Peter Anvin\" <hpa@zytor.com>",
                "x86@kernel.org",
                "Ann (Acme) <ann@acme.org>",
            ]
        );
        assert_eq!(
            r.cc,
            vec![
                "kvm@vger.kernel.org",
                "linux-arm-kernel@lists.infradead.org",
                "linux-kernel@vger.kernel.org"
            ]
        );
    }

    #[test]
    fn merging_keeps_each_address_once_and_to_wins() {
        let a = Recipients {
            to: vec!["A <a@x.org>".into()],
            cc: vec!["l@x.org".into(), "B <B@x.org>".into()],
        };
        let b = Recipients {
            to: vec!["b@x.org".into(), "a@X.org".into()],
            cc: vec!["l@x.org".into()],
        };
        let m = merge(&[&a, &b]);
        assert_eq!(m.to, vec!["A <a@x.org>", "b@x.org"]);
        assert_eq!(m.cc, vec!["l@x.org"]);
    }
}
