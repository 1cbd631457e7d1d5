//! The SMTP client: connect (plain, STARTTLS or implicit TLS), AUTH, and
//! send one message as raw bytes with its envelope.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::SendError;
use super::compose::Outgoing;
use super::config::{Encryption, SmtpSettings};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An open, authenticated session.
pub struct Session {
    conn: SmtpConnection,
    settings: SmtpSettings,
}

/// Remove the password from any text before it is shown.
pub(crate) fn redact(s: &str, settings: &SmtpSettings) -> String {
    match &settings.password {
        Some(p) if !p.expose().is_empty() => s.replace(p.expose(), "<redacted>"),
        _ => s.to_string(),
    }
}

fn load_cas(path: &Path) -> Result<Vec<Certificate>, SendError> {
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| SendError::Io {
                what: format!("cannot list CA directory {}", path.display()),
                source: e,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "pem" || e == "crt" || e == "cer")
            })
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut certs = Vec::new();
    for f in files {
        let pem = std::fs::read(&f).map_err(|e| SendError::Io {
            what: format!("cannot read CA certificate file {}", f.display()),
            source: e,
        })?;
        let c = Certificate::from_pem(&pem).map_err(|e| SendError::Config {
            problem: format!("{} holds no usable PEM certificate: {e}", f.display()),
            fix: "give --smtp-ca (or sendemail.smtpSSLCertPath) a PEM file with the CA certificate"
                .into(),
        })?;
        certs.push(c);
    }
    Ok(certs)
}

fn tls_parameters(s: &SmtpSettings) -> Result<TlsParameters, SendError> {
    let mut b = TlsParameters::builder(s.server.clone());
    if let Some(ca) = &s.ca {
        for c in load_cas(ca)? {
            b = b.add_root_certificate(c);
        }
    }
    b.build_rustls().map_err(|e| SendError::Tls {
        endpoint: s.endpoint(),
        detail: e.to_string(),
    })
}

fn classify_connect_error(s: &SmtpSettings, e: lettre::transport::smtp::Error) -> SendError {
    let detail = redact(&format!("{e}{}", source_chain(&e)), s);
    if e.is_tls() || detail.contains("certificate") || detail.contains("InvalidCertificate") {
        SendError::Tls {
            endpoint: s.endpoint(),
            detail,
        }
    } else {
        SendError::Connect {
            endpoint: s.endpoint(),
            detail,
        }
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let top = e.to_string();
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) && !top.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
    }
    out
}

impl Session {
    /// Connect, encrypt as configured, and log in.  Fails before any
    /// message goes out when the server is unreachable, the certificate is
    /// not trusted, or the credentials are refused.
    pub fn open(
        settings: &SmtpSettings,
        log: &mut dyn Write,
        verbose: bool,
    ) -> Result<Session, SendError> {
        let hello = ClientId::default();
        let tls = match settings.encryption {
            Encryption::None => None,
            _ => Some(tls_parameters(settings)?),
        };
        if verbose {
            let _ = writeln!(
                log,
                "Connecting to {} (encryption: {})",
                settings.endpoint(),
                settings.encryption
            );
        }
        let implicit = if settings.encryption == Encryption::Implicit {
            tls.as_ref()
        } else {
            None
        };
        let mut conn = SmtpConnection::connect(
            (settings.server.as_str(), settings.port),
            Some(TIMEOUT),
            &hello,
            implicit,
            None,
        )
        .map_err(|e| classify_connect_error(settings, e))?;
        if settings.encryption == Encryption::StartTls {
            if !conn.server_info().supports_feature(Extension::StartTls) {
                conn.abort();
                return Err(SendError::Tls {
                    endpoint: settings.endpoint(),
                    detail: "the server does not offer STARTTLS".into(),
                });
            }
            let params = tls.as_ref().expect("built for STARTTLS");
            if let Err(e) = conn.starttls(params, &hello) {
                conn.abort();
                return Err(classify_connect_error(settings, e));
            }
        }
        if verbose {
            let _ = writeln!(
                log,
                "Connected: {} (encrypted: {})",
                conn.server_info(),
                conn.is_encrypted()
            );
        }
        if let (Some(user), Some(pass)) = (&settings.user, &settings.password) {
            if verbose {
                let _ = writeln!(
                    log,
                    "AUTH as {user} (password from configuration, not shown)"
                );
            }
            let creds = Credentials::new(user.clone(), pass.expose().to_string());
            if let Err(e) = conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds) {
                conn.abort();
                return Err(SendError::Auth {
                    endpoint: settings.endpoint(),
                    user: user.clone(),
                    detail: redact(&e.to_string(), settings),
                });
            }
            if verbose {
                let _ = writeln!(log, "AUTH accepted");
            }
        }
        Ok(Session {
            conn,
            settings: settings.clone(),
        })
    }

    /// True when the server advertised 8BITMIME.
    pub fn offers_8bitmime(&self) -> bool {
        self.conn
            .server_info()
            .supports_feature(Extension::EightBitMime)
    }

    /// Send one message.  The body goes out byte for byte (only LF becomes
    /// CRLF and leading dots are doubled, as SMTP requires).  An 8-bit
    /// message is announced with `BODY=8BITMIME` when the server offers it;
    /// when it does not, it is sent as it is anyway, as git send-email does,
    /// after a warning (the message still declares
    /// `Content-Transfer-Encoding: 8bit`).
    pub fn send(
        &mut self,
        msg: &Outgoing,
        log: &mut dyn Write,
        verbose: bool,
    ) -> Result<String, (String, String)> {
        let mut params = Vec::new();
        if msg.is_8bit() {
            if self.offers_8bitmime() {
                params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
            } else {
                let _ = writeln!(
                    log,
                    "warning: {} does not offer 8BITMIME; sending the 8-bit message as it is",
                    self.settings.endpoint()
                );
            }
        }
        let from: Address = msg.envelope_from.parse().map_err(|e| {
            (
                "MAIL FROM".to_string(),
                format!("{}: {e}", msg.envelope_from),
            )
        })?;
        let mail = Mail::new(Some(from), params);
        if verbose {
            let _ = writeln!(log, "> {}", mail.to_string().trim_end());
        }
        self.cmd(mail, "MAIL FROM", log, verbose)?;
        for r in &msg.recipients {
            let a: Address = r.parse().map_err(|e: lettre::address::AddressError| {
                (format!("RCPT TO:<{r}>"), e.to_string())
            })?;
            let rcpt = Rcpt::new(a, vec![]);
            if verbose {
                let _ = writeln!(log, "> {}", rcpt.to_string().trim_end());
            }
            self.cmd(rcpt, &format!("RCPT TO:<{r}>"), log, verbose)?;
        }
        self.cmd(Data, "DATA", log, verbose)?;
        let wire = to_crlf(&msg.bytes);
        match self.conn.message(&wire) {
            Ok(resp) => {
                let text = resp.message().collect::<Vec<_>>().join(" ");
                if verbose {
                    let _ = writeln!(log, "< {} {}", resp.code(), text);
                }
                Ok(format!("{} {}", resp.code(), text))
            }
            Err(e) => Err(("end of DATA".into(), redact(&e.to_string(), &self.settings))),
        }
    }

    fn cmd<C: std::fmt::Display>(
        &mut self,
        c: C,
        stage: &str,
        log: &mut dyn Write,
        verbose: bool,
    ) -> Result<(), (String, String)> {
        match self.conn.command(c) {
            Ok(r) => {
                if verbose {
                    let text = r.message().collect::<Vec<_>>().join(" ");
                    let _ = writeln!(log, "< {} {}", r.code(), text);
                }
                Ok(())
            }
            Err(e) => Err((
                stage.to_string(),
                redact(&format!("{e}{}", source_chain(&e)), &self.settings),
            )),
        }
    }

    /// Say QUIT politely.
    pub fn quit(mut self) {
        let _ = self.conn.quit();
    }

    /// Drop the connection after a failure.
    pub fn abort(mut self) {
        self.conn.abort();
    }
}

/// LF to CRLF (existing CRLF kept), without the final line ending, which
/// the end-of-data marker supplies.
fn to_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 40 + 2);
    let mut prev = 0u8;
    for &c in b {
        if c == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(c);
        prev = c;
    }
    // lettre ends the data with "\r\n.\r\n": that CRLF ends our last line.
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn crlf() {
        assert_eq!(super::to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc");
    }
}
