//! The former users of what a commit removes.
//!
//! A commit that deletes declarations (a function, a macro, a structure
//! member) builds only if nothing refers to them any more.  Compiling the
//! files it touches does not show that: the users are elsewhere.  So the
//! names a commit stops declaring are found in the files it touches (each
//! parsed as it is before and after the commit), and every file that
//! referred to one of them at the base of the range is compiled too: for
//! a member, a file that names both the member and its structure.  The
//! search is a word search (`git grep -w`), which can only find more files
//! than the C meaning would, never fewer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::VerifyError;
use crate::scan::kernel_c::{declarator_name, parse, text};

/// A name a commit stops declaring.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Removed {
    /// A function (definition or prototype) or a macro.
    Name(String),
    /// A member of a structure.
    Member { owner: String, name: String },
}

/// The names declared in `before` and no longer in `after` (one file's
/// two versions).
pub fn removed_names(before: &[u8], after: &[u8]) -> BTreeSet<Removed> {
    let old = declared(before);
    let new = declared(after);
    old.difference(&new).cloned().collect()
}

fn declared(src: &[u8]) -> BTreeSet<Removed> {
    let tree = parse(src);
    let mut out = BTreeSet::new();
    let mut stack = vec![tree.root_node()];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "function_definition" => {
                if let Some(name) = declarator_name(n) {
                    out.insert(Removed::Name(text(name, src).into_owned()));
                }
            }
            "declaration" => {
                let is_function = n.child_by_field_name("declarator").is_some_and(|d| {
                    d.kind() == "function_declarator"
                        || d.child_by_field_name("declarator")
                            .is_some_and(|i| i.kind() == "function_declarator")
                });
                if is_function && let Some(name) = declarator_name(n) {
                    out.insert(Removed::Name(text(name, src).into_owned()));
                }
            }
            "preproc_def" | "preproc_function_def" => {
                if let Some(name) = n.child_by_field_name("name") {
                    out.insert(Removed::Name(text(name, src).into_owned()));
                }
            }
            "struct_specifier" | "union_specifier" => {
                if let (Some(owner), Some(body)) =
                    (n.child_by_field_name("name"), n.child_by_field_name("body"))
                {
                    let mut c = body.walk();
                    for f in body.named_children(&mut c) {
                        if f.kind() != "field_declaration" {
                            continue;
                        }
                        let mut d = f.walk();
                        for decl in f.children_by_field_name("declarator", &mut d) {
                            if let Some(name) = crate::scan::kernel_c::declarator_name_of(decl)
                                .or_else(|| first_field_identifier(decl))
                            {
                                out.insert(Removed::Member {
                                    owner: text(owner, src).into_owned(),
                                    name: text(name, src).into_owned(),
                                });
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    out
}

/// `(*fn)(args)`: the member name inside a function-pointer declarator.
fn first_field_identifier(decl: tree_sitter::Node) -> Option<tree_sitter::Node> {
    let mut stack = vec![decl];
    while let Some(n) = stack.pop() {
        if n.kind() == "field_identifier" {
            return Some(n);
        }
        let mut c = n.walk();
        let children: Vec<_> = n.named_children(&mut c).collect();
        stack.extend(children.into_iter().rev());
    }
    None
}

fn git(repo: &Path, args: &[&str]) -> Result<(bool, Vec<u8>), VerifyError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|source| VerifyError::Spawn {
            command: format!("git {}", args.join(" ")),
            source,
        })?;
    Ok((out.status.success(), out.stdout))
}

/// The content of `path` at `rev`, empty when it does not exist there.
fn blob(repo: &Path, rev: &str, path: &Path) -> Result<Vec<u8>, VerifyError> {
    let spec = format!("{rev}:{}", path.display());
    let (ok, out) = git(repo, &["cat-file", "blob", &spec])?;
    Ok(if ok { out } else { Vec::new() })
}

/// Files (`*.c`, `*.h`) that mention any of `words` as a word at `rev`.
fn grep(
    repo: &Path,
    rev: &str,
    words: &[&str],
    only: Option<&[PathBuf]>,
) -> Result<BTreeSet<PathBuf>, VerifyError> {
    if words.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut args: Vec<String> = vec!["grep".into(), "-l".into(), "-w".into(), "-F".into()];
    for w in words {
        args.push("-e".into());
        args.push((*w).to_string());
    }
    args.push(rev.to_string());
    args.push("--".into());
    match only {
        Some(files) => args.extend(files.iter().map(|f| f.display().to_string())),
        None => {
            args.push("*.c".into());
            args.push("*.h".into());
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, out) = git(repo, &refs)?;
    let prefix = format!("{rev}:");
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .map(|l| PathBuf::from(l.strip_prefix(&prefix).unwrap_or(l)))
        .collect())
}

/// The names commit `sha` (whose parent is `parent`) stops declaring in
/// the files it touches, and the files that referred to them at `base`.
pub fn former_users(
    repo: &Path,
    base: &str,
    parent: &str,
    sha: &str,
    touched: &[PathBuf],
) -> Result<(BTreeSet<Removed>, BTreeSet<PathBuf>), VerifyError> {
    let mut removed = BTreeSet::new();
    for f in touched {
        if !matches!(f.extension().and_then(|e| e.to_str()), Some("c" | "h")) {
            continue;
        }
        let before = blob(repo, parent, f)?;
        let after = blob(repo, sha, f)?;
        removed.extend(removed_names(&before, &after));
    }
    let names: Vec<&str> = removed
        .iter()
        .filter_map(|r| match r {
            Removed::Name(n) => Some(n.as_str()),
            Removed::Member { .. } => None,
        })
        .collect();
    let mut users = grep(repo, base, &names, None)?;
    for r in &removed {
        if let Removed::Member { owner, name } = r {
            let with_member: Vec<PathBuf> = grep(repo, base, &[name], None)?.into_iter().collect();
            if with_member.is_empty() {
                continue;
            }
            users.extend(grep(repo, base, &[owner], Some(&with_member))?);
        }
    }
    Ok((removed, users))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_change_stops_declaring() {
        let before = b"struct ops {\n\tvoid (*old_cb)(int);\n\tint kept;\n};\n\
                       #define OLD_MACRO 1\n\
                       void old_api(int x);\n\
                       static inline void old_wrapper(int x) { old_api(x); }\n\
                       int kept_fn(void);\n";
        let after = b"struct ops {\n\tint kept;\n};\nint kept_fn(void);\n";
        let r = removed_names(before, after);
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            vec![
                Removed::Name("OLD_MACRO".into()),
                Removed::Name("old_api".into()),
                Removed::Name("old_wrapper".into()),
                Removed::Member {
                    owner: "ops".into(),
                    name: "old_cb".into()
                },
            ]
        );
        assert!(removed_names(after, after).is_empty());
    }
}
