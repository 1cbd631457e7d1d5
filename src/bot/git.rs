//! Git for the bot: branch names from payloads are validated before they
//! reach git (the rules of `git check-ref-format`, stricter where cheap),
//! and the series branch is pushed with the git CLI, never through a
//! shell, with the token in the environment (`GIT_CONFIG_*`), never on the
//! command line.

use std::path::{Path, PathBuf};

use base64::Engine;

use super::Secret;
use crate::git::Git;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("invalid branch name {0:?}: {1}")]
    BadBranch(String, &'static str),
    #[error("invalid commit id {0:?}")]
    BadSha(String),
    #[error("invalid push URL {0:?}: {1}")]
    BadUrl(String, &'static str),
    #[error("{0}")]
    Run(#[from] crate::git::GitError),
}

/// A branch name that passed [`BranchName::new`]: safe to hand to git as
/// `refs/heads/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BranchName(String);

impl BranchName {
    /// Validates `name` by the rules of `git check-ref-format --branch`,
    /// plus: no leading `-`, at most 200 bytes, ASCII printable only.
    pub fn new(name: &str) -> Result<BranchName, GitError> {
        let bad = |why| Err(GitError::BadBranch(name.to_string(), why));
        if name.is_empty() {
            return bad("empty");
        }
        if name.len() > 200 {
            return bad("longer than 200 bytes");
        }
        if name.starts_with('-') {
            return bad("starts with '-'");
        }
        if name == "@" {
            return bad("is '@'");
        }
        if name.starts_with("refs/") {
            return bad("give the short branch name, not a ref");
        }
        for c in name.chars() {
            if !c.is_ascii() || c.is_ascii_control() {
                return bad("contains a control or non-ASCII character");
            }
            if matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\') {
                return bad("contains one of ' ~^:?*[\\'");
            }
        }
        if name.contains("..") {
            return bad("contains '..'");
        }
        if name.contains("@{") {
            return bad("contains '@{'");
        }
        if name.contains("//") || name.starts_with('/') || name.ends_with('/') {
            return bad("has an empty path component");
        }
        if name.ends_with('.') {
            return bad("ends with '.'");
        }
        for comp in name.split('/') {
            if comp.starts_with('.') {
                return bad("a component starts with '.'");
            }
            if comp.ends_with(".lock") {
                return bad("a component ends with '.lock'");
            }
        }
        Ok(BranchName(name.to_string()))
    }

    /// From a full ref `refs/heads/<name>` (as in push payloads).
    pub fn from_ref(r: &str) -> Result<BranchName, GitError> {
        match r.strip_prefix("refs/heads/") {
            Some(n) => BranchName::new(n),
            None => Err(GitError::BadBranch(r.to_string(), "not under refs/heads/")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `refs/heads/<name>`.
    pub fn full_ref(&self) -> String {
        format!("refs/heads/{}", self.0)
    }
}

impl std::fmt::Display for BranchName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A full 40 (SHA-1) or 64 (SHA-256) hex digit commit id.
pub fn is_hex_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where the series branch is pushed: the fork over HTTPS (with a token),
/// or, for tests and local mirrors, a local path or `file://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushUrl {
    Https(String),
    Local(String),
}

impl PushUrl {
    pub fn parse(url: &str) -> Result<PushUrl, GitError> {
        let bad = |why| Err(GitError::BadUrl(url.to_string(), why));
        if url.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return bad("contains control characters or spaces");
        }
        if let Some(rest) = url.strip_prefix("https://") {
            if rest.contains('@') {
                return bad("credentials do not belong in the URL");
            }
            return Ok(PushUrl::Https(url.to_string()));
        }
        if url.starts_with("file:///") || url.starts_with('/') {
            return Ok(PushUrl::Local(url.to_string()));
        }
        bad("only https://, file:// and absolute paths are accepted")
    }

    /// `https://github.com/<owner>/<repo>.git` (or the given server).
    pub fn github(server: &str, full_name: &str) -> Result<PushUrl, GitError> {
        PushUrl::parse(&format!(
            "{}/{}.git",
            server.trim_end_matches('/'),
            full_name
        ))
    }

    pub fn as_str(&self) -> &str {
        match self {
            PushUrl::Https(s) | PushUrl::Local(s) => s,
        }
    }
}

/// The `http.extraheader` value that authenticates `token` to GitHub over
/// HTTPS (what actions/checkout does).
pub fn auth_header(token: &Secret) -> String {
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("x-access-token:{}", token.expose()));
    format!("AUTHORIZATION: basic {basic}")
}

/// The environment that makes git send `token` to `url` (and only
/// there): `http.<url>.extraheader` as command-line-scope configuration.
/// The first, empty value clears headers configured before (such as the
/// one actions/checkout leaves in `.git/config`), or git would send two
/// `Authorization` headers.
pub fn auth_env(url: &str, token: &Secret) -> Vec<(String, String)> {
    let key = format!("http.{url}.extraheader");
    vec![
        ("GIT_CONFIG_COUNT".into(), "2".into()),
        ("GIT_CONFIG_KEY_0".into(), key.clone()),
        ("GIT_CONFIG_VALUE_0".into(), String::new()),
        ("GIT_CONFIG_KEY_1".into(), key),
        ("GIT_CONFIG_VALUE_1".into(), auth_header(token)),
    ]
}

/// The `git push` command that force-pushes `sha` of `repo` to
/// `refs/heads/<branch>` at `url`.  For HTTPS the token travels in the
/// environment as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`
/// (an `http.<url>.extraheader` scoped to that URL, see [`auth_env`]), so it is not in the
/// argument list that `ps` shows.  Never run through a shell.
pub fn push_command(
    repo: &Path,
    sha: &str,
    url: &PushUrl,
    branch: &BranchName,
    token: Option<&Secret>,
) -> Result<Git, GitError> {
    if !is_hex_sha(sha) {
        return Err(GitError::BadSha(sha.to_string()));
    }
    let mut git = Git::new(repo)
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS");
    if let (PushUrl::Https(u), Some(t)) = (url, token) {
        git = git.envs(auth_env(u, t));
    }
    Ok(git
        .args(["push", "--force", "--porcelain", "--"])
        .arg(url.as_str())
        .arg(format!("{sha}:{}", branch.full_ref())))
}

/// Pushes; the error carries git's stderr with the token (if any) masked.
pub fn push(
    repo: &Path,
    sha: &str,
    url: &PushUrl,
    branch: &BranchName,
    token: Option<&Secret>,
) -> Result<(), GitError> {
    push_command(repo, sha, url, branch, token)?
        .run()
        .map_err(|e| match token {
            Some(t) => e.redact(t.expose()),
            None => e,
        })?;
    Ok(())
}

/// Runs `git -C repo <args>` (no shell) and returns stdout.
pub fn git(repo: &Path, args: &[&str]) -> Result<String, GitError> {
    Ok(Git::new(repo).args(args).text()?)
}

/// A path as a `file://` URL (for tests and local mirrors).
pub fn file_url(path: &Path) -> String {
    let p: PathBuf = path.to_path_buf();
    format!("file://{}", p.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in [
            "master",
            "kseries/master",
            "for-next",
            "v4.13-rc1",
            "a.b/c_d",
        ] {
            assert!(BranchName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-f",
            "--upload-pack=x",
            "a..b",
            "a@{1}",
            "@",
            "a b",
            "a\nb",
            "a\u{7f}",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a.lock/b",
            "refs/heads/x",
            "é",
        ] {
            assert!(BranchName::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            BranchName::from_ref("refs/heads/master").unwrap().as_str(),
            "master"
        );
        assert!(BranchName::from_ref("refs/tags/v1").is_err());
        assert!(BranchName::from_ref("refs/heads/-x").is_err());
    }

    #[test]
    fn push_urls() {
        assert!(matches!(
            PushUrl::parse("https://github.com/o/r.git").unwrap(),
            PushUrl::Https(_)
        ));
        assert!(matches!(
            PushUrl::parse("/srv/fork.git").unwrap(),
            PushUrl::Local(_)
        ));
        assert!(matches!(
            PushUrl::parse("file:///srv/fork.git").unwrap(),
            PushUrl::Local(_)
        ));
        for bad in [
            "-oProxyCommand=x",
            "ext::sh -c x",
            "ssh://h/r",
            "https://user:tok@github.com/o/r",
            "relative/path",
            "http://github.com/o/r",
        ] {
            assert!(PushUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_is_in_the_environment_not_the_arguments() {
        let token = Secret::new("ghs_supersecret");
        let url = PushUrl::parse("https://github.com/o/r.git").unwrap();
        let branch = BranchName::new("kseries/master").unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let cmd = push_command(Path::new("/repo"), sha, &url, &branch, Some(&token)).unwrap();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-C",
                "/repo",
                "push",
                "--force",
                "--porcelain",
                "--",
                "https://github.com/o/r.git",
                "0123456789abcdef0123456789abcdef01234567:refs/heads/kseries/master",
            ]
        );
        assert!(!args.iter().any(|a| a.contains("supersecret")));
        let envs: Vec<(String, String)> = cmd
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        let get = |k: &str| envs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("GIT_CONFIG_COUNT").as_deref(), Some("2"));
        for k in ["GIT_CONFIG_KEY_0", "GIT_CONFIG_KEY_1"] {
            assert_eq!(
                get(k).as_deref(),
                Some("http.https://github.com/o/r.git.extraheader")
            );
        }
        assert_eq!(get("GIT_CONFIG_VALUE_0").as_deref(), Some(""));
        let header = get("GIT_CONFIG_VALUE_1").unwrap();
        let b64 = header.strip_prefix("AUTHORIZATION: basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(decoded, b"x-access-token:ghs_supersecret");
        assert_eq!(get("GIT_TERMINAL_PROMPT").as_deref(), Some("0"));
        // Local pushes never carry the token.
        let local = PushUrl::parse("/srv/fork.git").unwrap();
        let cmd = push_command(Path::new("/repo"), sha, &local, &branch, Some(&token)).unwrap();
        assert!(cmd.get_envs().all(|(k, _)| k != "GIT_CONFIG_VALUE_1"));
        assert!(push_command(Path::new("/r"), "HEAD", &local, &branch, None).is_err());
    }
}
