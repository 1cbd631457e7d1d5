//! Sending through a sendmail-compatible program (msmtp, sendmail,
//! nullmailer...), as git send-email does when `sendemail.smtpServer` is
//! an absolute path or `sendemail.sendmailCmd` is set: the exact bytes of
//! the message on the program's stdin, the recipients as arguments.

use std::io::Write;
use std::process::{Command, Stdio};

use super::compose::Outgoing;
use super::config::Sendmail;

impl Sendmail {
    /// The arguments after the program, as git passes them: `-i` (a lone
    /// `.` does not end the message), `-f SENDER` when an envelope sender
    /// is configured, then every recipient.
    fn args(msg: &Outgoing, envelope_sender: Option<&str>) -> Vec<String> {
        let mut args = vec!["-i".to_string()];
        if let Some(f) = envelope_sender {
            args.push("-f".into());
            args.push(f.to_string());
        }
        args.extend(msg.recipients.iter().cloned());
        args
    }

    /// Pipes one message to the program.  `Err((stage, detail))` when it
    /// cannot run or exits with an error.
    pub fn send(
        &self,
        msg: &Outgoing,
        envelope_sender: Option<&str>,
    ) -> Result<String, (String, String)> {
        let args = Self::args(msg, envelope_sender);
        let mut cmd = match self {
            Sendmail::Program(p) => {
                let mut c = Command::new(p);
                c.args(&args);
                c
            }
            Sendmail::Shell(sh) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("{sh} \"$@\"")).arg("-").args(&args);
                c
            }
        };
        let stage = || self.to_string();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| (stage(), format!("cannot run it: {e}")))?;
        let written = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(&msg.bytes));
        let out = child
            .wait_with_output()
            .map_err(|e| (stage(), e.to_string()))?;
        if !out.status.success() {
            return Err((
                stage(),
                format!(
                    "it exited with {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        if let Some(Err(e)) = written {
            return Err((stage(), format!("writing the message to it: {e}")));
        }
        Ok(format!("accepted by {self}"))
    }
}
