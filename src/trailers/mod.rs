//! `kseries trailers`: collect `Reviewed-by:`, `Acked-by:`, `Tested-by:` and
//! `Reported-by:` from the replies to a sent series and add them to the
//! series branch, like `b4 trailers -u`.
//!
//! * A reply counts for the patch it answers: its `In-Reply-To:` (or the
//!   nearest `References:` entry) leading, possibly through other replies,
//!   to a patch message; a reply to the cover letter counts for every
//!   patch.  Patch messages are recognised in the replies themselves (a
//!   thread as downloaded from an archive holds them) and, when given, in
//!   the series directory: the Message-Ids its patch files carry, and its
//!   `.kseries-sent.json`.
//! * A reply with no usable threading that quotes a patch's whole diff is
//!   matched by `git patch-id`.
//! * Quoted lines (`> Reviewed-by: ...`) are ignored; a trailer whose value
//!   is not `Name <address>` is reported as malformed and not applied.
//! * The branch is rewritten with `git commit-tree` (trees, authors and
//!   dates kept): new trailers go right before the submitter's
//!   `Signed-off-by:` (the sender's own, else the last one; without any, at
//!   the end of the trailer block), and a trailer
//!   already present is not added again.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::send::address;
use crate::send::series::{Patch, parse_message, split_mbox};

/// The trailers that are collected, in their canonical spelling.
pub const TAGS: &[&str] = &["Reviewed-by", "Acked-by", "Tested-by", "Reported-by"];

/// Failures of `trailers`.
#[derive(Debug, thiserror::Error)]
pub enum TrailersError {
    /// A git command failed.
    #[error("git {args} failed in {}: {stderr}", dir.display())]
    Git {
        /// The arguments.
        args: String,
        /// Where it ran.
        dir: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// A file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The input does not allow a safe rewrite.
    #[error("{problem}; {fix}")]
    Input {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

/// Options of `kseries trailers`.
#[derive(Debug, Clone, Default)]
pub struct TrailersOptions {
    /// The repository.
    pub repo: PathBuf,
    /// The series branch to rewrite.
    pub branch: String,
    /// `--base REV`: the commit the series sits on; default
    /// `BRANCH~N` with N from the `[PATCH i/N]` subjects of the replies.
    pub base: Option<String>,
    /// The replies: an mbox file or a maildir.
    pub replies: PathBuf,
    /// `--series DIR`: the sent series directory (its state file maps
    /// Message-Ids to patches when the replies lack the patch messages).
    pub series: Option<PathBuf>,
    /// `--dry-run`: report, do not rewrite.
    pub dry_run: bool,
}

/// One trailer found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Canonical tag (`Reviewed-by`).
    pub tag: String,
    /// `Name <address>`.
    pub value: String,
}

impl Trailer {
    /// The line as it goes into a commit message.
    pub fn line(&self) -> String {
        format!("{}: {}", self.tag, self.value)
    }
}

/// A trailer-looking line that could not be used.
#[derive(Debug, Clone)]
pub struct Malformed {
    /// Message-Id (or source) of the reply.
    pub reply: String,
    /// The line.
    pub line: String,
    /// Why it was not used.
    pub reason: String,
}

/// What happened to one commit.
#[derive(Debug, Clone)]
pub struct CommitUpdate {
    /// The original commit.
    pub old: String,
    /// The rewritten commit (equal to `old` in a dry run or when unchanged).
    pub new: String,
    /// Its subject.
    pub subject: String,
    /// Trailers added.
    pub added: Vec<Trailer>,
}

/// The outcome of `trailers`.
#[derive(Debug, Clone, Default)]
pub struct TrailersReport {
    /// Per commit, oldest first.
    pub commits: Vec<CommitUpdate>,
    /// Lines that looked like trailers but were not usable.
    pub malformed: Vec<Malformed>,
    /// Replies with trailers that matched no patch.
    pub unmatched: Vec<String>,
    /// The new branch head (None in a dry run or without changes).
    pub new_head: Option<String>,
}

fn git(repo: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, TrailersError> {
    let mut cmd = Command::new("git");
    cmd.current_dir(repo)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let io = |e| TrailersError::Io {
        what: format!("cannot run git {}", args.join(" ")),
        source: e,
    };
    let mut child = cmd.spawn().map_err(io)?;
    if let Some(data) = input {
        let mut stdin = child.stdin.take().expect("piped");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = child.wait_with_output().map_err(io)?;
    if !out.status.success() {
        return Err(TrailersError::Git {
            args: args.join(" "),
            dir: repo.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

fn git_str(repo: &Path, args: &[&str]) -> Result<String, TrailersError> {
    Ok(String::from_utf8_lossy(&git(repo, args, None)?)
        .trim()
        .to_string())
}

/// `git patch-id --stable` of whatever diff `text` holds.
fn patch_id(repo: &Path, text: &[u8]) -> Option<String> {
    let out = git(repo, &["patch-id", "--stable"], Some(text)).ok()?;
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .next()
        .map(str::to_string)
}

/// (Message-Id, Subject) of every `*.patch` file of a series directory
/// that has a Message-Id.
fn series_message_ids(dir: &Path) -> Result<Vec<(String, String)>, TrailersError> {
    let has_patches = std::fs::read_dir(dir)
        .map_err(|e| TrailersError::Io {
            what: format!("cannot read series directory {}", dir.display()),
            source: e,
        })?
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "patch"));
    if !has_patches {
        return Ok(Vec::new());
    }
    let series = crate::send::series::read_series(dir).map_err(|e| TrailersError::Input {
        problem: e.to_string(),
        fix: "give the series directory as git format-patch or kseries series wrote it".into(),
    })?;
    Ok(series
        .patches
        .iter()
        .filter_map(|p| {
            let id = msg_ids(p.header("Message-Id")?).pop()?;
            Some((id, p.subject()?.to_string()))
        })
        .collect())
}

/// Read the replies: an mbox file or a maildir (`cur/` and `new/`).
pub fn read_replies(path: &Path) -> Result<Vec<Patch>, TrailersError> {
    let io = |e| TrailersError::Io {
        what: format!("cannot read replies {}", path.display()),
        source: e,
    };
    if path.is_dir() {
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            let d = path.join(sub);
            if d.is_dir() {
                for e in std::fs::read_dir(&d).map_err(io)? {
                    let p = e.map_err(io)?.path();
                    if p.is_file() {
                        files.push(p);
                    }
                }
            }
        }
        if files.is_empty() {
            return Err(TrailersError::Input {
                problem: format!("{} is not a maildir with messages", path.display()),
                fix: "give an mbox file or a maildir (with cur/ or new/)".into(),
            });
        }
        files.sort();
        files
            .iter()
            .map(|f| {
                let b = std::fs::read(f).map_err(io)?;
                Ok(parse_message(&f.display().to_string(), &b))
            })
            .collect()
    } else {
        let bytes = std::fs::read(path).map_err(io)?;
        Ok(split_mbox(&bytes)
            .iter()
            .enumerate()
            .map(|(i, m)| parse_message(&format!("{} (message {})", path.display(), i + 1), m))
            .collect())
    }
}

fn msg_ids(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(a) = rest.find('<') {
        let Some(b) = rest[a..].find('>') else { break };
        out.push(rest[a..=a + b].to_string());
        rest = &rest[a + b + 1..];
    }
    out
}

/// `[PATCH v2 3/5] subject` -> (Some((3, 5)), "subject").
fn split_subject(s: &str) -> (Option<(u32, u32)>, String) {
    let s = address::decode_rfc2047(s);
    let mut s = s.trim();
    let mut num = None;
    while let Some(r) = s.strip_prefix("Re:").or_else(|| s.strip_prefix("RE:")) {
        s = r.trim_start();
    }
    if s.starts_with('[')
        && let Some(end) = s.find(']')
    {
        for w in s[1..end].split_whitespace() {
            if let Some((a, b)) = w.split_once('/')
                && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
            {
                num = Some((a, b));
            }
        }
        s = s[end + 1..].trim_start();
    }
    (num, s.to_string())
}

/// Trailers in the unquoted lines of a reply body, and malformed ones.
pub fn scan_body(body: &[u8]) -> (Vec<Trailer>, Vec<(String, String)>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for line in String::from_utf8_lossy(body).lines() {
        let l = line.trim();
        if line.starts_with('>') || l.is_empty() {
            continue;
        }
        let Some((tag, val)) = l.split_once(':') else {
            continue;
        };
        let tag_norm = tag.trim().replace(' ', "-").to_ascii_lowercase();
        let Some(canon) = TAGS.iter().find(|t| t.to_ascii_lowercase() == tag_norm) else {
            continue;
        };
        if tag.contains(' ') && !tag.trim().contains('-') {
            // "Reviewed by: X" (no dash) is a typo worth reporting.
            bad.push((line.to_string(), format!("write it as {canon}:")));
            continue;
        }
        match address::parse_mailbox(val.trim()) {
            Ok(m) if m.name.is_some() => good.push(Trailer {
                tag: canon.to_string(),
                value: m.display(),
            }),
            Ok(_) => bad.push((
                line.to_string(),
                "the value has no name: expected 'Name <address>'".into(),
            )),
            Err(e) => bad.push((
                line.to_string(),
                format!("expected 'Name <address>': {}", e.0),
            )),
        }
    }
    (good, bad)
}

/// Insert `new` trailers into a commit message: before the last
/// `Signed-off-by:` of `submitter` (an address), else before the last
/// `Signed-off-by:` (whoever submitted it), else at the end of the trailer
/// block.  Returns the message and the trailers really added.
pub fn add_trailers(msg: &str, new: &[Trailer], submitter: &str) -> (String, Vec<Trailer>) {
    let mut lines: Vec<String> = msg.trim_end().lines().map(str::to_string).collect();
    let existing: HashSet<String> = lines
        .iter()
        .map(|l| l.trim().to_ascii_lowercase())
        .collect();
    let mut added = Vec::new();
    for t in new {
        let key = t.line().to_ascii_lowercase();
        if !existing.contains(&key)
            && !added
                .iter()
                .any(|a: &Trailer| a.line().eq_ignore_ascii_case(&t.line()))
        {
            added.push(t.clone());
        }
    }
    if added.is_empty() {
        return (msg.to_string(), added);
    }
    let sub = submitter.to_ascii_lowercase();
    let is_sob = |l: &String| l.to_ascii_lowercase().starts_with("signed-off-by:");
    let sob = lines
        .iter()
        .rposition(|l| is_sob(l) && l.to_ascii_lowercase().contains(&format!("<{sub}>")))
        .or_else(|| lines.iter().rposition(is_sob));
    let new_lines: Vec<String> = added.iter().map(Trailer::line).collect();
    match sob {
        Some(i) => {
            lines.splice(i..i, new_lines);
        }
        None => {
            let last_is_trailer = lines
                .last()
                .is_some_and(|l| l.contains(": ") && !l.starts_with(' ') && lines.len() > 1);
            if !last_is_trailer {
                lines.push(String::new());
            }
            lines.extend(new_lines);
        }
    }
    (lines.join("\n") + "\n", added)
}

/// Run `kseries trailers`.
pub fn trailers(
    opts: &TrailersOptions,
    out: &mut dyn Write,
) -> Result<TrailersReport, TrailersError> {
    let repo = &opts.repo;
    let replies = read_replies(&opts.replies)?;
    let io = |e| TrailersError::Io {
        what: "cannot write output".into(),
        source: e,
    };

    // Patch messages: Message-Id -> Some(patch number) (0 = cover).
    let mut patch_of_id: HashMap<String, u32> = HashMap::new();
    let mut total = None;
    let mut patch_subjects: HashMap<u32, String> = HashMap::new();
    let mut patch_msg_ids: HashSet<String> = HashSet::new();
    for m in &replies {
        let subj = m.subject().unwrap_or("");
        let (num, rest) = split_subject(subj);
        let is_reply = subj.trim_start().to_ascii_lowercase().starts_with("re:");
        if let (Some((i, n)), false) = (num, is_reply) {
            if let Some(id) = m.header("Message-Id").and_then(|v| msg_ids(v).pop()) {
                patch_of_id.insert(id.clone(), i);
                patch_msg_ids.insert(id);
            }
            patch_subjects.insert(i, rest);
            total = Some(n);
        }
    }
    if let Some(dir) = &opts.series {
        let state_path = dir.join(crate::send::STATE_FILE);
        // The patch files name their own Message-Ids (`kseries series`,
        // `git format-patch --thread`): a series that was never sent, or
        // sent by another tool, is matched by them.
        let files = series_message_ids(dir)?;
        if files.is_empty() && !state_path.exists() {
            return Err(TrailersError::Input {
                problem: format!(
                    "{} holds neither patch files with Message-Ids nor a {} state file",
                    dir.display(),
                    crate::send::STATE_FILE
                ),
                fix: "give the directory of the series as it was sent (git format-patch --thread -o DIR, kseries series --output-dir DIR)".into(),
            });
        }
        for (id, subject) in files {
            let (num, rest) = split_subject(&subject);
            if let Some((i, n)) = num {
                patch_of_id.insert(id.clone(), i);
                patch_msg_ids.insert(id);
                patch_subjects.entry(i).or_insert(rest);
                total.get_or_insert(n);
            }
        }
        let state =
            crate::send::SentState::load(&state_path).map_err(|e| TrailersError::Input {
                problem: e.to_string(),
                fix: "give the series directory that kseries send used".into(),
            })?;
        for r in state.sent {
            let (num, rest) = split_subject(&r.subject);
            if let Some((i, n)) = num {
                patch_of_id.insert(r.message_id, i);
                patch_subjects.entry(i).or_insert(rest);
                total.get_or_insert(n);
            }
        }
    }

    // The commits.
    let base = match (&opts.base, total) {
        (Some(b), _) => b.clone(),
        (None, Some(n)) => format!("{}~{n}", opts.branch),
        (None, None) => {
            return Err(TrailersError::Input {
                problem:
                    "cannot tell where the series starts: the replies hold no [PATCH i/N] message"
                        .into(),
                fix: "pass --base REV".into(),
            });
        }
    };
    let old_head = git_str(
        repo,
        &[
            "rev-parse",
            "--verify",
            &format!("{}^{{commit}}", opts.branch),
        ],
    )?;
    let base_sha = git_str(
        repo,
        &["rev-parse", "--verify", &format!("{base}^{{commit}}")],
    )?;
    let list = git_str(
        repo,
        &["rev-list", "--reverse", &format!("{base_sha}..{old_head}")],
    )?;
    let commits: Vec<String> = list.lines().map(str::to_string).collect();
    let merges = git_str(
        repo,
        &["rev-list", "--merges", &format!("{base_sha}..{old_head}")],
    )?;
    if !merges.is_empty() {
        return Err(TrailersError::Input {
            problem: format!("{base}..{} contains merge commits", opts.branch),
            fix: "a patch series is linear: check --base".into(),
        });
    }
    if commits.is_empty() {
        return Err(TrailersError::Input {
            problem: format!("{base}..{} holds no commit", opts.branch),
            fix: "check --base and the branch name".into(),
        });
    }
    if total.is_some_and(|n| n as usize != commits.len()) {
        writeln!(
            out,
            "warning: the replies speak of {} patches, {base}..{} holds {}",
            total.unwrap_or(0),
            opts.branch,
            commits.len()
        )
        .map_err(io)?;
    }
    let subjects: Vec<String> = commits
        .iter()
        .map(|c| git_str(repo, &["log", "-1", "--format=%s", c]))
        .collect::<Result<_, _>>()?;
    let commit_pids: Vec<Option<String>> = commits
        .iter()
        .map(|c| {
            git(repo, &["show", "--format=", c], None)
                .ok()
                .and_then(|d| patch_id(repo, &d))
        })
        .collect();
    // Patch number -> commit index: by subject, else by position.
    let commit_of_patch = |i: u32| -> Option<usize> {
        if i == 0 {
            return None;
        }
        if let Some(s) = patch_subjects.get(&i)
            && let Some(k) = subjects.iter().position(|c| c == s)
        {
            return Some(k);
        }
        let k = i as usize - 1;
        (k < commits.len()).then_some(k)
    };

    // Parent links between all messages, to walk replies-to-replies.
    let mut parent: HashMap<String, String> = HashMap::new();
    for m in &replies {
        let Some(id) = m.header("Message-Id").and_then(|v| msg_ids(v).pop()) else {
            continue;
        };
        let p = m
            .header("In-Reply-To")
            .and_then(|v| msg_ids(v).pop())
            .or_else(|| m.header("References").and_then(|v| msg_ids(v).pop()));
        if let Some(p) = p {
            parent.insert(id, p);
        }
    }
    let resolve = |start: &str| -> Option<u32> {
        let mut cur = start.to_string();
        for _ in 0..100 {
            if let Some(&i) = patch_of_id.get(&cur) {
                return Some(i);
            }
            cur = parent.get(&cur)?.clone();
        }
        None
    };

    let mut per_commit: Vec<Vec<Trailer>> = vec![Vec::new(); commits.len()];
    let mut report = TrailersReport::default();
    for m in &replies {
        let id = m.header("Message-Id").and_then(|v| msg_ids(v).pop());
        if id.as_ref().is_some_and(|i| patch_msg_ids.contains(i)) {
            continue; // the patch itself: its own trailers are already in the commit
        }
        let (found, bad) = scan_body(&m.body);
        let who = id.clone().unwrap_or_else(|| m.source.clone());
        for (line, reason) in bad {
            report.malformed.push(Malformed {
                reply: who.clone(),
                line,
                reason,
            });
        }
        if found.is_empty() {
            continue;
        }
        let parent_id = m
            .header("In-Reply-To")
            .and_then(|v| msg_ids(v).pop())
            .or_else(|| m.header("References").and_then(|v| msg_ids(v).pop()));
        let target: Option<Vec<usize>> = match parent_id.as_deref().and_then(resolve) {
            Some(0) => Some((0..commits.len()).collect()),
            Some(i) => commit_of_patch(i).map(|k| vec![k]),
            None => {
                // No threading: a reply quoting a whole diff, by patch-id.
                let unquoted: Vec<u8> = String::from_utf8_lossy(&m.body)
                    .lines()
                    .filter_map(|l| l.strip_prefix('>'))
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .flat_map(|l| format!("{l}\n").into_bytes())
                    .collect();
                patch_id(repo, &unquoted).and_then(|pid| {
                    commit_pids
                        .iter()
                        .position(|c| c.as_deref() == Some(pid.as_str()))
                        .map(|k| vec![k])
                })
            }
        };
        match target {
            Some(ks) => {
                for k in ks {
                    per_commit[k].extend(found.iter().cloned());
                }
            }
            None => report.unmatched.push(who),
        }
    }

    // Rewrite.
    let submitter = crate::send::compose::resolve_sender(
        None,
        &crate::send::GitConfig::load(repo).map_err(|e| TrailersError::Input {
            problem: e.to_string(),
            fix: "check git config".into(),
        })?,
        repo,
    )
    .map(|m| m.addr)
    .unwrap_or_default();
    let mut new_parent = base_sha.clone();
    let mut changed = false;
    for (k, c) in commits.iter().enumerate() {
        let msg = String::from_utf8_lossy(&git(repo, &["log", "-1", "--format=%B", c], None)?)
            .to_string();
        let (new_msg, added) = add_trailers(&msg, &per_commit[k], &submitter);
        let new_sha = if opts.dry_run || (added.is_empty() && !changed) {
            c.clone()
        } else {
            changed = true;
            let fmt = git_str(
                repo,
                &[
                    "log",
                    "-1",
                    "--format=%an%x00%ae%x00%ad%x00%T",
                    "--date=raw",
                    c,
                ],
            )?;
            let f: Vec<&str> = fmt.split('\0').collect();
            let mut cmd = Command::new("git");
            cmd.current_dir(repo)
                .args(["commit-tree", f[3], "-p", &new_parent, "-F", "-"])
                .env("GIT_AUTHOR_NAME", f[0])
                .env("GIT_AUTHOR_EMAIL", f[1])
                .env("GIT_AUTHOR_DATE", f[2])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().map_err(|e| TrailersError::Io {
                what: "cannot run git commit-tree".into(),
                source: e,
            })?;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(new_msg.as_bytes())
                .map_err(|e| TrailersError::Io {
                    what: "cannot write to git commit-tree".into(),
                    source: e,
                })?;
            let o = child.wait_with_output().map_err(|e| TrailersError::Io {
                what: "git commit-tree".into(),
                source: e,
            })?;
            if !o.status.success() {
                return Err(TrailersError::Git {
                    args: "commit-tree".into(),
                    dir: repo.clone(),
                    stderr: String::from_utf8_lossy(&o.stderr).into(),
                });
            }
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        for t in &added {
            writeln!(out, "{}: + {}", subjects[k], t.line()).map_err(io)?;
        }
        new_parent = new_sha.clone();
        report.commits.push(CommitUpdate {
            old: c.clone(),
            new: new_sha,
            subject: subjects[k].clone(),
            added,
        });
    }
    for m in &report.malformed {
        writeln!(
            out,
            "malformed trailer in {}: {:?}: {}",
            m.reply, m.line, m.reason
        )
        .map_err(io)?;
    }
    for u in &report.unmatched {
        writeln!(out, "warning: reply {u} has trailers but matches no patch").map_err(io)?;
    }
    if changed {
        let refname = format!(
            "refs/heads/{}",
            opts.branch.trim_start_matches("refs/heads/")
        );
        git(
            repo,
            &[
                "update-ref",
                "-m",
                "kseries trailers",
                &refname,
                &new_parent,
                &old_head,
            ],
            None,
        )?;
        writeln!(
            out,
            "{} updated: {} -> {}",
            opts.branch,
            &old_head[..12],
            &new_parent[..12]
        )
        .map_err(io)?;
        report.new_head = Some(new_parent);
    } else if opts.dry_run {
        writeln!(out, "Dry run: the branch is unchanged.").map_err(io)?;
    } else {
        writeln!(out, "No new trailers; {} is unchanged.", opts.branch).map_err(io)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_and_ignores_quotes() {
        let b = b"> Reviewed-by: Q <q@x.org>\nLooks good.\n\nReviewed-by: R One <r1@x.org>\nAcked-by: nobody\nTested by: T <t@x.org>\n";
        let (good, bad) = scan_body(b);
        assert_eq!(
            good,
            vec![Trailer {
                tag: "Reviewed-by".into(),
                value: "R One <r1@x.org>".into()
            }]
        );
        assert_eq!(bad.len(), 2);
    }

    #[test]
    fn inserts_before_submitter_sob() {
        let msg = "drv: x\n\nBody.\n\nReported-by: A <a@x.org>\nSigned-off-by: Me <me@x.org>\n";
        let t = Trailer {
            tag: "Acked-by".into(),
            value: "B <b@x.org>".into(),
        };
        let (m, added) = add_trailers(msg, &[t.clone(), t.clone()], "me@x.org");
        assert_eq!(added.len(), 1);
        assert_eq!(
            m,
            "drv: x\n\nBody.\n\nReported-by: A <a@x.org>\nAcked-by: B <b@x.org>\nSigned-off-by: Me <me@x.org>\n"
        );
        let (m2, added2) = add_trailers(&m, &[t], "me@x.org");
        assert!(added2.is_empty());
        assert_eq!(m2, m);
    }
}
