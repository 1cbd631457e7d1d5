//! The git command line, run one way for all of kseries.
//!
//! Invariant: a git process is started only through [`Git`]: `git -C DIR
//! ARGS` with the arguments as a list (never a shell), standard input
//! closed unless the caller hands over bytes, `GIT_TERMINAL_PROMPT=0` (git
//! never waits on a terminal, except `git credential`, whose caller asks for
//! it), and every failure is a [`GitError`] that names the command (its
//! arguments and directory), its exit status and what git wrote to stderr.
//!
//! Callers choose what a non-zero exit means: [`Git::output`] returns it
//! (`git grep` finding nothing, `git cat-file -e` of a missing object are
//! answers, not errors), [`Git::run`] and [`Git::text`] turn it into an
//! error.  The object database itself is read and written through git2
//! where that is faster (`series::commits`); this module is for git's
//! porcelain and plumbing commands.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

/// A git command as it appears in an error: where it ran and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCommand {
    /// The directory given to `git -C`.
    pub dir: PathBuf,
    /// The arguments after `-C DIR`.
    pub args: Vec<String>,
}

impl fmt::Display for GitCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "git -C {}", self.dir.display())?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// A git command that could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started (not installed?) or its pipes failed.
    #[error("cannot run `{command}`: {source}{}", install_hint(source))]
    Spawn {
        command: GitCommand,
        #[source]
        source: std::io::Error,
    },
    /// git ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: GitCommand,
        status: ExitStatus,
        /// What git wrote to stderr, trimmed.
        stderr: String,
    },
}

/// A git that is not there at all says so.
fn install_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::NotFound {
        " (is git installed?)"
    } else {
        ""
    }
}

impl GitError {
    /// The command that failed.
    pub fn command(&self) -> &GitCommand {
        match self {
            GitError::Spawn { command, .. } | GitError::Failed { command, .. } => command,
        }
    }

    /// What git wrote to stderr (empty when it did not run).
    pub fn stderr(&self) -> &str {
        match self {
            GitError::Spawn { .. } => "",
            GitError::Failed { stderr, .. } => stderr,
        }
    }

    /// The same error with every occurrence of `secret` in its text
    /// replaced by `***` (a token git may echo in a message).
    pub fn redact(self, secret: &str) -> GitError {
        let mask = |s: String| {
            if secret.is_empty() {
                s
            } else {
                s.replace(secret, "***")
            }
        };
        let redact_command = |c: GitCommand| GitCommand {
            dir: c.dir,
            args: c.args.into_iter().map(mask).collect(),
        };
        match self {
            GitError::Spawn { command, source } => GitError::Spawn {
                command: redact_command(command),
                source,
            },
            GitError::Failed {
                command,
                status,
                stderr,
            } => GitError::Failed {
                command: redact_command(command),
                status,
                stderr: mask(stderr),
            },
        }
    }
}

/// One git command being set up (see the module documentation).
#[derive(Debug)]
pub struct Git {
    cmd: Command,
    dir: PathBuf,
    args: Vec<OsString>,
    input: Option<Vec<u8>>,
    inherit_stderr: bool,
}

impl Git {
    /// `git -C dir`.
    pub fn new(dir: impl AsRef<Path>) -> Git {
        let dir = dir.as_ref().to_path_buf();
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&dir).env("GIT_TERMINAL_PROMPT", "0");
        Git {
            cmd,
            dir,
            args: Vec::new(),
            input: None,
            inherit_stderr: false,
        }
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Git {
        self.cmd.arg(arg.as_ref());
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Git
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// An environment variable for git.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Git {
        self.cmd.env(key, value);
        self
    }

    /// Several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Git
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    /// Removes a variable from git's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Git {
        self.cmd.env_remove(key);
        self
    }

    /// Lets git prompt on the terminal (`git credential fill` when the
    /// user is there to answer): GIT_TERMINAL_PROMPT is left as the user
    /// has it.
    pub fn interactive(mut self) -> Git {
        self.cmd.env_remove("GIT_TERMINAL_PROMPT");
        self
    }

    /// Bytes for git's standard input.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Git {
        self.input = Some(input.into());
        self
    }

    /// git's stderr goes to ours instead of into the error (a credential
    /// helper talking to the user).
    pub fn inherit_stderr(mut self) -> Git {
        self.inherit_stderr = true;
        self
    }

    /// The arguments as `std::process::Command` holds them (`-C DIR`
    /// first).
    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.cmd.get_args()
    }

    /// The environment changes as `std::process::Command` holds them.
    pub fn get_envs(&self) -> std::process::CommandEnvs<'_> {
        self.cmd.get_envs()
    }

    /// The command, for error messages.
    pub fn command(&self) -> GitCommand {
        GitCommand {
            dir: self.dir.clone(),
            args: self
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        }
    }

    /// Runs git and returns its output whatever its exit status: for
    /// callers to whom failure is an answer.  Only a git that could not
    /// run is an error.
    pub fn output(mut self) -> Result<Output, GitError> {
        let command = self.command();
        let spawn = |source| GitError::Spawn {
            command: command.clone(),
            source,
        };
        self.cmd
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(if self.inherit_stderr {
                Stdio::inherit()
            } else {
                Stdio::piped()
            });
        let mut child = self.cmd.spawn().map_err(spawn)?;
        // Written from a thread: git may fill its stdout pipe before it
        // has read all of its input.
        let writer = match (self.input.take(), child.stdin.take()) {
            (Some(data), Some(mut stdin)) => {
                Some(std::thread::spawn(move || stdin.write_all(&data)))
            }
            _ => None,
        };
        let out = child.wait_with_output().map_err(spawn)?;
        if let Some(w) = writer {
            // git may exit without reading all of its input (a broken
            // pipe then); its exit status says whether that mattered.
            let _ = w.join();
        }
        Ok(out)
    }

    /// Runs git and returns its stdout; a non-zero exit is an error.
    pub fn run(self) -> Result<Vec<u8>, GitError> {
        let command = self.command();
        let out = self.output()?;
        if !out.status.success() {
            return Err(GitError::Failed {
                command,
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    /// Runs git and returns its stdout as text (invalid UTF-8 replaced);
    /// a non-zero exit is an error.
    pub fn text(self) -> Result<String, GitError> {
        Ok(String::from_utf8_lossy(&self.run()?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_command_its_status_and_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Git::new(tmp.path())
            .args(["rev-parse", "--verify", "no-such-rev"])
            .text()
            .unwrap_err();
        let GitError::Failed {
            command,
            status,
            stderr,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(command.dir, tmp.path());
        assert_eq!(command.args, ["rev-parse", "--verify", "no-such-rev"]);
        assert!(!status.success());
        assert!(stderr.contains("not a git repository"), "{stderr}");
        let text = err.to_string();
        assert!(text.contains("rev-parse --verify no-such-rev"), "{text}");
        assert!(text.contains(&tmp.path().display().to_string()), "{text}");
    }

    #[test]
    fn output_returns_a_failure_as_an_answer() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Git::new(tmp.path())
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .unwrap();
        assert!(!out.status.success());
    }

    #[test]
    fn input_reaches_git_and_bytes_come_back_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        // More than a pipe's buffer, so writing and reading must overlap.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let id = Git::new(tmp.path())
            .args(["hash-object", "--stdin"])
            .stdin(data.clone())
            .text()
            .unwrap();
        let expected = crate::rewrite::plan::git_blob_id(&data);
        assert_eq!(id.trim(), expected);
    }

    #[test]
    fn a_missing_directory_is_an_error_with_the_command() {
        let err = Git::new("/nonexistent/kseries-git-test")
            .args(["status"])
            .run()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("git -C /nonexistent/kseries-git-test status"),
            "{err}"
        );
        assert!(!err.stderr().is_empty());
    }

    #[test]
    fn redact_masks_a_secret_in_arguments_and_stderr() {
        let e = GitError::Failed {
            command: GitCommand {
                dir: PathBuf::from("/r"),
                args: vec!["push".into(), "tok123".into()],
            },
            status: Git::new("/")
                .args(["--no-such-option"])
                .output()
                .unwrap()
                .status,
            stderr: "fatal: tok123 refused".into(),
        }
        .redact("tok123");
        assert!(!e.to_string().contains("tok123"), "{e}");
        assert!(e.to_string().contains("***"), "{e}");
    }
}
