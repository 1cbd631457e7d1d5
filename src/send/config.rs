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
    if server.starts_with('/') {
        return Err(SendError::Config {
            problem: format!(
                "sendemail.smtpServer is a sendmail program ({server}); kseries only speaks SMTP"
            ),
            fix: "pass --smtp-server HOST".into(),
        });
    }
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
    let password = if user.is_some() {
        opts.smtp_pass
            .clone()
            .or_else(|| std::env::var(PASSWORD_ENV).ok().map(Password::new))
            .or_else(|| cfg.get("sendemail.smtppass").map(Password::new))
    } else {
        None
    };
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
    if user.is_some() && password.is_none() {
        return Err(SendError::Config {
            problem: "an SMTP user is set but no password".into(),
            fix: format!(
                "export {PASSWORD_ENV}=... or set git config sendemail.smtpPass (kseries never prompts)"
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
        ca,
    })
}
