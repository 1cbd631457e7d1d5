//! Reading a patch series: a `git format-patch` directory or an mbox.

use std::path::{Path, PathBuf};

use super::SendError;
use super::address::{self, Mailbox};

/// One header line of a patch file, unfolded.
#[derive(Debug, Clone)]
pub struct Header {
    /// The field name as written (`Subject`).
    pub name: String,
    /// The value, continuation lines joined with a single space.
    pub value: String,
    /// The original bytes of the field, continuation lines included,
    /// without the final line ending.
    pub raw: Vec<u8>,
}

/// One message of the series as read from disk.
#[derive(Debug, Clone)]
pub struct Patch {
    /// Where it came from: a file path, or `MBOX (message N)`.
    pub source: String,
    /// Header fields in file order (the mbox `From ` line is not one).
    pub headers: Vec<Header>,
    /// The body: every byte after the blank line ending the header.
    pub body: Vec<u8>,
}

impl Patch {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// All headers named `name`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The `Subject:` as written in the file (possibly RFC 2047 encoded).
    pub fn subject(&self) -> Option<&str> {
        self.header("Subject")
    }

    /// Parsed addresses of one of this patch's headers (To, Cc).
    pub fn parse_addresses(&self, h: &Header) -> Result<Vec<Mailbox>, SendError> {
        address::parse_list(&h.value).map_err(|e| SendError::BadPatch {
            source_name: self.source.clone(),
            problem: format!("bad address in its {}: header: {}", h.name, e.0),
            fix: format!("correct the {}: header of that file", h.name),
        })
    }

    /// True for a cover letter (`[PATCH 0/N]`, or a `0000-` file).
    pub fn is_cover(&self) -> bool {
        let subj = self.subject().unwrap_or("");
        let in_brackets = subj
            .find('[')
            .and_then(|a| subj[a..].find(']').map(|b| &subj[a..a + b]))
            .unwrap_or("");
        in_brackets
            .split_whitespace()
            .any(|w| w.starts_with("0/") || w.starts_with("00/"))
            || Path::new(&self.source)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| {
                    let n = n.strip_prefix('v').map_or(n, |r| {
                        r.split_once('-')
                            .filter(|(v, _)| v.chars().all(|c| c.is_ascii_digit()))
                            .map_or(n, |(_, rest)| rest)
                    });
                    n.starts_with("0000-")
                })
    }

    /// The series version from the subject prefix (`[PATCH v3 1/2]`), or 1.
    pub fn version(&self) -> u32 {
        let subj = self.subject().unwrap_or("");
        let Some(a) = subj.find('[') else { return 1 };
        let Some(b) = subj[a..].find(']') else {
            return 1;
        };
        subj[a + 1..a + b]
            .split_whitespace()
            .find_map(|w| {
                w.strip_prefix('v')
                    .or_else(|| w.strip_prefix('V'))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(1)
    }
}

/// Where a series lives, which decides where its state file goes.
#[derive(Debug, Clone)]
pub enum SeriesSource {
    /// A directory of `*.patch` files (sent in name order).
    Dir(PathBuf),
    /// One mbox file holding every message.
    Mbox(PathBuf),
}

/// A series read from disk.
#[derive(Debug, Clone)]
pub struct Series {
    /// Where it was read from.
    pub source: SeriesSource,
    /// Its messages in sending order.
    pub patches: Vec<Patch>,
}

/// Name of the state file inside a series directory.
pub const STATE_FILE: &str = ".kseries-sent.json";

impl Series {
    /// Path of the file recording which messages went out.
    pub fn state_path(&self) -> PathBuf {
        match &self.source {
            SeriesSource::Dir(d) => d.join(STATE_FILE),
            SeriesSource::Mbox(f) => {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("series");
                f.with_file_name(format!(".{name}{STATE_FILE}"))
            }
        }
    }
}

/// Read a series directory (every `*.patch` file, by name) or an mbox.
pub fn read_series(path: &Path) -> Result<Series, SendError> {
    let meta = std::fs::metadata(path).map_err(|e| SendError::Io {
        what: format!("cannot read series {}", path.display()),
        source: e,
    })?;
    let (source, patches) = if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| SendError::Io {
                what: format!("cannot list series directory {}", path.display()),
                source: e,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "patch"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(SendError::EmptySeries {
                path: path.to_path_buf(),
            });
        }
        let mut patches = Vec::new();
        for f in files {
            let bytes = std::fs::read(&f).map_err(|e| SendError::Io {
                what: format!("cannot read {}", f.display()),
                source: e,
            })?;
            patches.push(parse_message(&f.display().to_string(), &bytes));
        }
        (SeriesSource::Dir(path.to_path_buf()), patches)
    } else {
        let bytes = std::fs::read(path).map_err(|e| SendError::Io {
            what: format!("cannot read mbox {}", path.display()),
            source: e,
        })?;
        let msgs = split_mbox(&bytes);
        if msgs.is_empty() {
            return Err(SendError::EmptySeries {
                path: path.to_path_buf(),
            });
        }
        let patches = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| parse_message(&format!("{} (message {})", path.display(), i + 1), m))
            .collect();
        (SeriesSource::Mbox(path.to_path_buf()), patches)
    };
    for p in &patches {
        if let Some(h) = p.headers.iter().find(|h| h.raw.contains(&b'\r')) {
            return Err(SendError::BadPatch {
                source_name: p.source.clone(),
                problem: format!(
                    "its {}: header holds a bare carriage return (CR), which some mail servers read as a line break: a way to smuggle in header fields",
                    h.name
                ),
                fix: "remove the CR from that header (regenerate the patch with git format-patch)"
                    .into(),
            });
        }
        if p.subject().is_none_or(|s| s.trim().is_empty()) {
            return Err(SendError::BadPatch {
                source_name: p.source.clone(),
                problem: "it has no Subject: header".into(),
                fix: "regenerate it with git format-patch, or add a Subject: line to its header"
                    .into(),
            });
        }
    }
    Ok(Series { source, patches })
}

fn is_mbox_from_line(line: &[u8]) -> bool {
    // `From <sha1> Mon Sep 17 00:00:00 2001` and the like: "From ", a word,
    // then something with a time of day in it.
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let s = String::from_utf8_lossy(rest);
    let mut words = s.split_whitespace();
    words.next().is_some() && words.any(|w| w.len() == 8 && w.as_bytes()[2] == b':')
}

/// Split an mbox into messages, dropping each `From ` separator line.
pub fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if prev_blank && is_mbox_from_line(line) {
            if let Some(m) = cur.take() {
                msgs.push(m);
            }
            cur = Some(Vec::new());
            prev_blank = false;
            continue;
        }
        prev_blank = line == b"\n" || line == b"\r\n";
        cur.get_or_insert_with(Vec::new).extend_from_slice(line);
    }
    if let Some(m) = cur
        && !m.iter().all(|b| b.is_ascii_whitespace())
    {
        msgs.push(m);
    }
    msgs
}

/// Parse one message into headers and body bytes.  A leading mbox `From `
/// line is dropped.
pub fn parse_message(source: &str, bytes: &[u8]) -> Patch {
    let mut rest = bytes;
    if is_mbox_from_line(rest.split(|&b| b == b'\n').next().unwrap_or(b"")) {
        rest = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => &rest[i + 1..],
            None => &[],
        };
    }
    let mut headers: Vec<Header> = Vec::new();
    let mut pos = 0;
    while pos < rest.len() {
        let end = rest[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| pos + i + 1);
        let line = &rest[pos..end];
        let content = strip_eol(line);
        if content.is_empty() {
            pos = end;
            break;
        }
        if (content[0] == b' ' || content[0] == b'\t') && !headers.is_empty() {
            let h = headers.last_mut().expect("checked");
            h.raw.extend_from_slice(b"\n");
            h.raw.extend_from_slice(content);
            h.value.push(' ');
            h.value
                .push_str(String::from_utf8_lossy(content).trim_start());
        } else if let Some(colon) = content.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&content[..colon])
                .trim()
                .to_string();
            if name.is_empty() || name.contains(' ') {
                // Not a header line: the header ended without a blank line.
                break;
            }
            headers.push(Header {
                name,
                value: String::from_utf8_lossy(&content[colon + 1..])
                    .trim()
                    .to_string(),
                raw: content.to_vec(),
            });
        } else {
            break;
        }
        pos = end;
    }
    Patch {
        source: source.to_string(),
        headers,
        body: rest[pos.min(rest.len())..].to_vec(),
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &[u8] = b"From 1234abcd Mon Sep 17 00:00:00 2001\nFrom: A <a@b.c>\nSubject: [PATCH v2 1/2] foo:\n bar\nTo: x@y.z\n\nbody\nFrom me\n";

    #[test]
    fn parses_format_patch_file() {
        let p = parse_message("f", P);
        assert_eq!(p.subject(), Some("[PATCH v2 1/2] foo: bar"));
        assert_eq!(p.version(), 2);
        assert_eq!(p.body, b"body\nFrom me\n");
        assert!(!p.is_cover());
        assert_eq!(p.headers[1].raw, b"Subject: [PATCH v2 1/2] foo:\n bar");
    }

    #[test]
    fn splits_mbox() {
        let mut m = P.to_vec();
        m.extend_from_slice(b"\n");
        m.extend_from_slice(P);
        let v = split_mbox(&m);
        assert_eq!(v.len(), 2);
        assert!(v[0].starts_with(b"From: A"));
    }
}
