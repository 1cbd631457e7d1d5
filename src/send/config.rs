//! git config (`sendemail.*`, `user.*`) and the SMTP settings built from it
//! and the command-line options.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::SendError;

/// The git configuration as `git config --list` sees it from one directory.
#[derive(Debug, Clone, Default)]
pub struct GitConfig {
    /// Keys lowercased; every value of multi-valued keys, in order.
    values: BTreeMap<String, Vec<String>>,
}

impl GitConfig {
    /// Read the configuration that git sees when run in `dir` (system,
    /// global, and the repository's if `dir` is inside one).  Without git
    /// or outside any repository this is whatever git can still read.
    pub fn load(dir: &Path) -> Result<GitConfig, SendError> {
        let out = Command::new("git")
            .arg("config")
            .arg("--list")
            .arg("-z")
            .current_dir(dir)
            .output()
            .map_err(|e| SendError::Io {
                what: "cannot run git to read its configuration (is git installed?)".into(),
                source: e,
            })?;
        let mut cfg = GitConfig::default();
        if !out.status.success() {
            // No config at all is not an error; git exits 1 then.
            return Ok(cfg);
        }
        for entry in out.stdout.split(|&b| b == 0) {
            if entry.is_empty() {
                continue;
            }
            let s = String::from_utf8_lossy(entry);
            let (k, v) = s.split_once('\n').unwrap_or((&s, "true"));
            cfg.push(k, v);
        }
        Ok(cfg)
    }

    /// Add one value (tests and callers building a config by hand).
    pub fn push(&mut self, key: &str, value: &str) {
        self.values
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.to_string());
    }

    /// The last value of `key` (git's rule for single-valued keys).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of a multi-valued key.
    pub fn get_all(&self, key: &str) -> &[String] {
        self.values
            .get(&key.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// git send-email's `sendemail.identity`: every `sendemail.<id>.<key>`
    /// replaces `sendemail.<key>` (all its values), so the identity's
    /// settings win and the general ones fill the rest.
    pub fn apply_identity(&mut self, identity: &str) {
        let prefix = format!("sendemail.{}.", identity.to_ascii_lowercase());
        let own: Vec<(String, Vec<String>)> = self
            .values
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&prefix)
                    .filter(|rest| !rest.contains('.'))
                    .map(|rest| (format!("sendemail.{rest}"), v.clone()))
            })
            .collect();
        for (k, v) in own {
            self.values.insert(k, v);
        }
    }
}

/// A sendmail-compatible program that takes the message on stdin, as git
/// send-email runs it: `sendemail.smtpServer` (or `--smtp-server`) set to
/// an absolute path, or `sendemail.sendmailCmd` (`--sendmail-cmd`), a
/// shell command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sendmail {
    /// Run directly: `PROGRAM -i [-f SENDER] RECIPIENT...`.
    Program(PathBuf),
    /// Run by the shell: `sh -c 'CMD "$@"' - -i [-f SENDER] RECIPIENT...`.
    Shell(String),
}

impl std::fmt::Display for Sendmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sendmail::Program(p) => write!(f, "sendmail program {}", p.display()),
            Sendmail::Shell(c) => write!(f, "sendmail command `{c}`"),
        }
    }
}

/// The sendmail program to use instead of SMTP, if any, by git
/// send-email's rules: a `--smtp-server` that is not a path means SMTP; an
/// absolute path is a program; a sendmail command (option, then config)
/// comes before the configured `sendemail.smtpServer`.
pub fn sendmail(opts: &super::SendOptions, cfg: &GitConfig) -> Option<Sendmail> {
    let absolute = |s: &str| Path::new(s).is_absolute().then(|| PathBuf::from(s));
    if let Some(server) = &opts.smtp_server {
        return absolute(server).map(Sendmail::Program);
    }
    if let Some(cmd) = &opts.sendmail_cmd {
        return Some(Sendmail::Shell(cmd.clone()));
    }
    if let Some(cmd) = cfg
        .get("sendemail.sendmailcmd")
        .filter(|c| !c.trim().is_empty())
    {
        return Some(Sendmail::Shell(cmd.to_string()));
    }
    cfg.get("sendemail.smtpserver")
        .and_then(absolute)
        .map(Sendmail::Program)
}

/// Asks git's credential helpers for the password of `user` at
/// `server:port`, as git send-email does (`git credential fill`, protocol
/// `smtp`).  `None` when no helper has one.  Prompting is left to git
/// only when stdin is a terminal.
pub fn credential_fill(dir: &Path, server: &str, port: u16, user: &str) -> Option<Password> {
    let out = credential(dir, "fill", server, port, user, None)?;
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .filter(|p| !p.is_empty())
        .map(Password::new)
}

/// Tells git's credential helpers that the password worked (`approve`,
/// so they store it) or did not (`reject`, so they forget it).
pub fn credential_verdict(dir: &Path, settings: &SmtpSettings, worked: bool) {
    if !settings.password_from_helper {
        return;
    }
    if let (Some(user), Some(pass)) = (&settings.user, &settings.password) {
        let action = if worked { "approve" } else { "reject" };
        let _ = credential(
            dir,
            action,
            &settings.server,
            settings.port,
            user,
            Some(pass),
        );
    }
}

fn credential(
    dir: &Path,
    action: &str,
    server: &str,
    port: u16,
    user: &str,
    password: Option<&Password>,
) -> Option<Vec<u8>> {
    use std::io::{IsTerminal, Write};
    let mut input = format!("protocol=smtp\nhost={server}:{port}\nusername={user}\n");
    if let Some(p) = password {
        input.push_str(&format!("password={}\n", p.expose()));
    }
    input.push('\n');
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(["credential", action])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    if !std::io::stdin().is_terminal() {
        cmd.env("GIT_TERMINAL_PROMPT", "0");
    }
    let mut child = cmd.spawn().ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// How the SMTP connection is encrypted (`sendemail.smtpEncryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    /// Plain text.
    #[default]
    None,
    /// `tls`: STARTTLS after connecting in plain text (required).
    StartTls,
    /// `ssl`: TLS from the first byte (SMTPS).
    Implicit,
}

impl std::str::FromStr for Encryption {
    type Err = SendError;
    fn from_str(s: &str) -> Result<Self, SendError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" | "plain" => Ok(Encryption::None),
            "tls" | "starttls" => Ok(Encryption::StartTls),
            "ssl" | "smtps" => Ok(Encryption::Implicit),
            other => Err(SendError::Config {
                problem: format!("unknown SMTP encryption {other:?}"),
                fix: "use tls (STARTTLS), ssl (implicit TLS) or none".into(),
            }),
        }
    }
}

impl std::fmt::Display for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encryption::None => "none",
            Encryption::StartTls => "tls (STARTTLS)",
            Encryption::Implicit => "ssl (implicit TLS)",
        })
    }
}

/// A password that never prints: its `Debug` and `Display` say `<redacted>`.
#[derive(Clone, Default)]
pub struct Password(String);

impl Password {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }
    /// The secret itself, for the AUTH command only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Environment variable holding the SMTP password.
pub const PASSWORD_ENV: &str = "KSERIES_SMTP_PASS";

/// Everything needed to reach the server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Host name or IP address.
    pub server: String,
    /// TCP port.
    pub port: u16,
    /// Encryption mode.
    pub encryption: Encryption,
    /// AUTH user, if any.
    pub user: Option<String>,
    /// AUTH password (only with a user).
    pub password: Option<Password>,
    /// The password came from `git credential fill`: the helpers hear
    /// whether it worked.
    pub password_from_helper: bool,
    /// Extra trusted CA certificates (PEM file or a directory of them).
    pub ca: Option<PathBuf>,
}

impl SmtpSettings {
    /// `host:port`, for messages.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.server, self.port)
    }
}

/// Build the SMTP settings: options first, then `sendemail.*` git config;
/// the password from `opts.smtp_pass`, `KSERIES_SMTP_PASS`, then
/// `sendemail.smtpPass`.
pub fn smtp_settings(
    opts: &super::SendOptions,
    cfg: &GitConfig,
) -> Result<SmtpSettings, SendError> {
    let server = opts
        .smtp_server
        .clone()
        .or_else(|| cfg.get("sendemail.smtpserver").map(str::to_string))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| SendError::Config {
            problem: "no SMTP server is configured".into(),
            fix: "pass --smtp-server HOST or run `git config sendemail.smtpServer HOST`".into(),
        })?;
    // Whether the user chose the encryption (a flag or a non-empty git
    // config value), or it is the plain-text default.
    let (encryption, chosen) = match (&opts.smtp_encryption, cfg.get("sendemail.smtpencryption")) {
        (Some(e), _) => (*e, true),
        (None, Some(s)) => (s.parse()?, !s.trim().is_empty()),
        (None, None) => (Encryption::None, false),
    };
    let port = match (opts.smtp_server_port, cfg.get("sendemail.smtpserverport")) {
        (Some(p), _) => p,
        (None, Some(s)) => s.trim().parse().map_err(|_| SendError::Config {
            problem: format!("sendemail.smtpServerPort {s:?} is not a port number"),
            fix: "set it to a number from 1 to 65535, or pass --smtp-server-port".into(),
        })?,
        (None, None) => match encryption {
            Encryption::Implicit => 465,
            _ => 25,
        },
    };
    let user = opts
        .smtp_user
        .clone()
        .or_else(|| cfg.get("sendemail.smtpuser").map(str::to_string))
        .filter(|u| !u.is_empty());
    if let Some(user) = user
        .as_ref()
        .filter(|_| encryption == Encryption::None && !chosen)
    {
        return Err(SendError::Config {
            problem: format!(
                "the SMTP login as {user:?} would go to {server}:{port} over an unencrypted connection, where anyone on the path can read the password, and no encryption was chosen"
            ),
            fix: "pass --smtp-encryption tls (STARTTLS) or ssl (implicit TLS), or set git config sendemail.smtpEncryption; --smtp-encryption none logs in over plain text if you accept that risk; nothing was sent".into(),
        });
    }
    let mut password_from_helper = false;
    let password = match &user {
        Some(u) => opts
            .smtp_pass
            .clone()
            .or_else(|| std::env::var(PASSWORD_ENV).ok().map(Password::new))
            .or_else(|| cfg.get("sendemail.smtppass").map(Password::new))
            .or_else(|| {
                let dir = opts.git_dir.clone().unwrap_or_else(|| PathBuf::from("."));
                let p = credential_fill(&dir, &server, port, u);
                password_from_helper = p.is_some();
                p
            }),
        None => None,
    };
    if user.is_some() && password.is_none() {
        return Err(SendError::Config {
            problem: "an SMTP user is set but no password".into(),
            fix: format!(
                "export {PASSWORD_ENV}=..., set git config sendemail.smtpPass, or store it with a git credential helper (protocol smtp, host {server}:{port})"
            ),
        });
    }
    let ca = opts
        .smtp_ca
        .clone()
        .or_else(|| cfg.get("sendemail.smtpsslcertpath").map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    Ok(SmtpSettings {
        server,
        port,
        encryption,
        user,
        password,
        password_from_helper,
        ca,
    })
}
