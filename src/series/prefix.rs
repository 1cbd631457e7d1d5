//! Subject prefixes in each subsystem's own convention.
//!
//! A maintainer recognises a patch for their code by its prefix
//! (`mm/rmap:`, `iommu/amd:`, `KVM: x86:`), and conventions differ per
//! subsystem, so they are learned from the history of the touched files
//! when there is one, and otherwise taken from `templates/prefixes.tsv`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::git::Git;

/// The bundled table, compiled in so an installed binary needs no files.
const TABLE: &str = include_str!("../../templates/prefixes.tsv");

/// How many recent subjects of a file are looked at.
const HISTORY: usize = 30;

/// `path -> prefix`, from the TSV text (comments and blank lines skipped).
pub fn parse_table(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, x)| {
            (
                p.trim().trim_end_matches('/').to_string(),
                x.trim().to_string(),
            )
        })
        .collect()
}

/// The table entry for `file`: the longest path that is the file itself or
/// one of its leading directories.
pub fn from_table<'t>(table: &'t [(String, String)], file: &str) -> Option<&'t str> {
    table
        .iter()
        .filter(|(p, _)| {
            file == p
                || (file.starts_with(p.as_str()) && file.as_bytes().get(p.len()) == Some(&b'/'))
        })
        .max_by_key(|(p, _)| p.len())
        .map(|(_, x)| x.as_str())
}

/// The prefix of a subject, `KVM: x86:` of `KVM: x86: fix foo`, or `None`
/// when the subject has none (`Linux 4.12`, reverts and merges).
pub fn subject_prefix(subject: &str) -> Option<String> {
    // A segment is one token (`mm/rmap`, `iommu/vt-d`) or a comma list
    // (`mm, rmap`), followed by `: `.
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^((?:[A-Za-z0-9_./+\-]+(?:, ?[A-Za-z0-9_./+\-]+)*: )+)").unwrap()
    });
    if subject.starts_with("Revert ") || subject.starts_with("Merge ") {
        return None;
    }
    RE.captures(subject).map(|c| c[1].trim_end().to_string())
}

/// The most common prefix among `subjects` (most recent first), if it
/// occurs at least twice: one commit is not a convention.  Ties go to the
/// most recent.
pub fn most_common(subjects: &[String]) -> Option<String> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, s) in subjects.iter().enumerate() {
        if let Some(p) = subject_prefix(s) {
            let e = counts.entry(p).or_insert((0, i));
            e.0 += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, (n, _))| *n >= 2)
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(p, _)| p)
}

/// Recent subjects of commits touching `file`, most recent first.  A tree
/// without git history (or without git) simply has none.
fn recent_subjects(tree: &Path, file: &str) -> Vec<String> {
    let out = Git::new(tree)
        .args(["log", "--no-merges", "--format=%s"])
        .arg(format!("-n{HISTORY}"))
        .args(["HEAD", "--", file])
        .text();
    match out {
        Ok(o) => o.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}

/// Where a prefix came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrefixSource {
    History,
    Table,
    Subsystem,
}

/// Chooses prefixes for sets of files.
pub struct Prefixer {
    table: Vec<(String, String)>,
    cache: HashMap<String, Option<(String, PrefixSource)>>,
    tree: std::path::PathBuf,
}

impl Prefixer {
    pub fn new(tree: &Path) -> Prefixer {
        Prefixer {
            table: parse_table(TABLE),
            cache: HashMap::new(),
            tree: tree.to_path_buf(),
        }
    }

    fn for_file(&mut self, file: &str) -> Option<(String, PrefixSource)> {
        if let Some(p) = self.cache.get(file) {
            return p.clone();
        }
        let p = most_common(&recent_subjects(&self.tree, file))
            .map(|p| (p, PrefixSource::History))
            .or_else(|| {
                from_table(&self.table, file).map(|p| (p.to_string(), PrefixSource::Table))
            });
        self.cache.insert(file.to_string(), p.clone());
        p
    }

    /// The prefix for a patch touching `files`: the prefix segments every
    /// file agrees on (`KVM: x86:` and `KVM: PPC:` give `KVM:`), else the
    /// table entry of their common directory, else `<subsystem>:`.
    pub fn for_files(&mut self, files: &[&str], subsystem: &str) -> (String, PrefixSource) {
        let per_file: Vec<_> = files.iter().map(|f| self.for_file(f)).collect();
        if !per_file.is_empty() && per_file.iter().all(Option::is_some) {
            let prefixes: Vec<_> = per_file.iter().flatten().collect();
            let segs: Vec<Vec<&str>> = prefixes.iter().map(|(p, _)| segments(p)).collect();
            let mut common = Vec::new();
            for (i, s) in segs[0].iter().enumerate() {
                if segs.iter().all(|o| o.get(i) == Some(s)) {
                    common.push(*s);
                } else {
                    break;
                }
            }
            if !common.is_empty() {
                let source = if prefixes.iter().all(|(_, s)| *s == PrefixSource::History) {
                    PrefixSource::History
                } else {
                    PrefixSource::Table
                };
                return (
                    common
                        .iter()
                        .map(|s| format!("{s}:"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    source,
                );
            }
        }
        let dir = common_dir(files);
        if let Some(p) = from_table(&self.table, &dir) {
            return (p.to_string(), PrefixSource::Table);
        }
        (format!("{subsystem}:"), PrefixSource::Subsystem)
    }
}

/// `KVM: x86:` -> `["KVM", "x86"]`.
fn segments(prefix: &str) -> Vec<&str> {
    prefix
        .split(": ")
        .map(|s| s.trim().trim_end_matches(':'))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The longest common leading directory of `files` (`""` for none).
fn common_dir(files: &[&str]) -> String {
    let mut dirs: Option<Vec<&str>> = None;
    for f in files {
        let parts: Vec<&str> = f.split('/').collect();
        let parent = &parts[..parts.len().saturating_sub(1)];
        dirs = Some(match dirs {
            None => parent.to_vec(),
            Some(d) => d
                .iter()
                .zip(parent)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    dirs.unwrap_or_default().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_longest_match_wins_on_path_components() {
        let t = parse_table(TABLE);
        assert_eq!(from_table(&t, "mm/rmap.c"), Some("mm/rmap:"));
        assert_eq!(from_table(&t, "mm/memory.c"), Some("mm:"));
        assert_eq!(from_table(&t, "arch/x86/kvm/x86.c"), Some("KVM: x86:"));
        assert_eq!(from_table(&t, "mmx/foo.c"), None);
        assert_eq!(
            from_table(&t, "drivers/iommu/intel-svm.c"),
            Some("iommu/vt-d:")
        );
    }

    #[test]
    fn prefixes_of_subjects() {
        assert_eq!(
            subject_prefix("KVM: x86: fix it").as_deref(),
            Some("KVM: x86:")
        );
        assert_eq!(
            subject_prefix("mm, rmap: do x").as_deref(),
            Some("mm, rmap:")
        );
        assert_eq!(
            subject_prefix("iommu/vt-d: y").as_deref(),
            Some("iommu/vt-d:")
        );
        assert_eq!(subject_prefix("Linux 4.12"), None);
        assert_eq!(subject_prefix("Revert \"mm: x\""), None);
        let s: Vec<String> = ["a: 1", "b: 2", "b: 3", "a: 4", "c: 5"]
            .map(String::from)
            .to_vec();
        assert_eq!(most_common(&s).as_deref(), Some("a:"));
        assert_eq!(most_common(&["z: 1".to_string()]), None);
    }

    #[test]
    fn common_dir_and_segments() {
        assert_eq!(common_dir(&["mm/rmap.c", "mm/ksm.c"]), "mm");
        assert_eq!(common_dir(&["virt/kvm/a.c", "arch/x86/kvm/x86.c"]), "");
        assert_eq!(segments("KVM: x86:"), vec!["KVM", "x86"]);
    }
}
