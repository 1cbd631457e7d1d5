//! Mail addresses: parsing `To:`/`Cc:` lists, RFC 2047 for display names.

use std::fmt;

/// One mailbox: an optional display name and the bare address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name, decoded (may contain non-ASCII).
    pub name: Option<String>,
    /// The bare address, `local@domain`.
    pub addr: String,
}

impl Mailbox {
    /// The key two mailboxes are compared by: the address, lowercased.
    pub fn key(&self) -> String {
        self.addr.to_ascii_lowercase()
    }

    /// Human form, decoded: `Name <addr>` or `addr`.
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => format!("{} <{}>", quote_name(n), self.addr),
            _ => self.addr.clone(),
        }
    }

    /// Header form: like [`Mailbox::display`], with a non-ASCII name encoded
    /// per RFC 2047 the way git send-email does (`=?UTF-8?q?...?=`).
    pub fn header(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() && !n.is_ascii() => {
                format!("{} <{}>", encode_rfc2047(n), self.addr)
            }
            _ => self.display(),
        }
    }

    /// The domain part of the address (after the last `@`).
    pub fn domain(&self) -> &str {
        self.addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

fn quote_name(n: &str) -> String {
    // RFC 5322 specials force a quoted string; git's sanitize_address does
    // the same.
    if n.starts_with('"') && n.ends_with('"') && n.len() >= 2 {
        return n.to_string();
    }
    if n.chars().any(|c| "()<>[]:;@\\,.\"".contains(c)) {
        let esc = n.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{esc}\"")
    } else {
        n.to_string()
    }
}

/// Why an address could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError(pub String);

/// Parse one mailbox: `Name <a@b>`, `"Name, Jr." <a@b>`, `a@b`, `a@b (Name)`.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, AddressError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AddressError("empty address".into()));
    }
    if s.chars().any(|c| c.is_control() && c != '\t') {
        // A line break here would smuggle header fields into the message.
        return Err(AddressError(format!("{s:?} contains control characters")));
    }
    let (name, addr) = if let Some(lt) = find_unquoted(s, '<') {
        let rest = &s[lt + 1..];
        let gt = rest
            .find('>')
            .ok_or_else(|| AddressError(format!("missing '>' in {s:?}")))?;
        // After the address only a (comment) may follow: a second
        // address would otherwise be dropped without a word.
        let after = rest[gt + 1..].trim();
        let comment = after.starts_with('(') && after.ends_with(')');
        if !(after.is_empty() || comment) {
            return Err(AddressError(format!(
                "unexpected {after:?} after the address in {s:?}"
            )));
        }
        let name = s[..lt].trim();
        (unquote(name), rest[..gt].trim().to_string())
    } else if let Some(po) = find_unquoted(s, '(') {
        let comment = s[po + 1..].trim_end().trim_end_matches(')').trim();
        (comment.to_string(), s[..po].trim().to_string())
    } else {
        (String::new(), s.to_string())
    };
    let name = decode_rfc2047(&name);
    if !is_valid_addr(&addr) {
        return Err(AddressError(format!(
            "{addr:?} (from {s:?}) is not an address of the form local@domain"
        )));
    }
    Ok(Mailbox {
        name: if name.is_empty() { None } else { Some(name) },
        addr,
    })
}

fn is_valid_addr(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && a.is_ascii()
        && !a
            .chars()
            .any(|c| c.is_whitespace() || "<>,;\"()".contains(c))
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        let inner = &s[1..s.len() - 1];
        let mut out = String::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                if let Some(n) = it.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        s.to_string()
    }
}

fn find_unquoted(s: &str, want: char) -> Option<usize> {
    let mut in_q = false;
    let mut esc = false;
    for (i, c) in s.char_indices() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' if in_q => esc = true,
            '"' => in_q = !in_q,
            c if c == want && !in_q => return Some(i),
            _ => {}
        }
    }
    None
}

/// Split an address list on the commas that separate its members (not the
/// ones inside quotes, `<...>` or comments).
pub fn split_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_q, mut esc, mut angle, mut paren) = (false, false, 0i32, 0i32);
    for c in s.chars() {
        if esc {
            esc = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if in_q => esc = true,
            '"' => in_q = !in_q,
            '<' if !in_q => angle += 1,
            '>' if !in_q => angle -= 1,
            '(' if !in_q => paren += 1,
            ')' if !in_q => paren -= 1,
            ',' if !in_q && angle <= 0 && paren <= 0 => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Parse a whole address list.
pub fn parse_list(s: &str) -> Result<Vec<Mailbox>, AddressError> {
    split_list(s).iter().map(|m| parse_mailbox(m)).collect()
}

/// RFC 2047 "Q" encoding exactly like git send-email's `quote_rfc2047`.
pub fn encode_rfc2047(s: &str) -> String {
    let mut out = String::from("=?UTF-8?q?");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-!*+/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out.push_str("?=");
    out
}

/// Decode RFC 2047 encoded words (`=?charset?q|b?...?=`) in a header value.
/// Only UTF-8, US-ASCII and ISO-8859-1 charsets are decoded; anything else
/// is left as it is.
///
/// Not the `rfc2047-decoder` crate (1.1.2, tried on the tests below): it
/// refuses a B word without its padding, which mail user agents write,
/// and one bad word fails the whole header, where this leaves that word
/// as it is and decodes the others (a trailer line must not be lost).
pub fn decode_rfc2047(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        match decode_word(after) {
            Some((text, used)) => {
                // Whitespace between two adjacent encoded words is dropped.
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &after[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &after[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = body[..q1].to_ascii_lowercase();
    let charset = charset.split('*').next().unwrap_or("").to_string();
    let rest = &body[q1 + 1..];
    let mut parts = rest.splitn(2, '?');
    let enc = parts.next()?.to_ascii_lowercase();
    let tail = parts.next()?;
    let end = tail.find("?=")?;
    let text = &tail[..end];
    let used = 2 + q1 + 1 + enc.len() + 1 + end + 2;
    let bytes = match enc.as_str() {
        "q" => {
            let mut v = Vec::new();
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'_' => v.push(b' '),
                    b'=' if i + 2 < b.len() => {
                        let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                        v.push(u8::from_str_radix(h, 16).ok()?);
                        i += 2;
                    }
                    c => v.push(c),
                }
                i += 1;
            }
            v
        }
        "b" => base64_decode(text)?,
        _ => return None,
    };
    let text = match charset.as_str() {
        "utf-8" | "utf8" | "us-ascii" => String::from_utf8(bytes).ok()?,
        "iso-8859-1" | "latin1" => bytes.iter().map(|&b| b as char).collect(),
        _ => return None,
    };
    Some((text, used))
}

/// The "B" encoding's base64, as mail user agents write it: padding may
/// be missing, and stray bits after the last byte are ignored.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let l = parse_list(r#""Doe, John" <j@x.org>, a@b.c, Jürgen Groß <jg@s.de>"#).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].name.as_deref(), Some("Doe, John"));
        assert_eq!(l[0].display(), r#""Doe, John" <j@x.org>"#);
        assert_eq!(l[1].addr, "a@b.c");
        assert_eq!(
            l[2].header(),
            "=?UTF-8?q?J=C3=BCrgen=20Gro=C3=9F?= <jg@s.de>"
        );
        assert!(parse_mailbox("not an address").is_err());
    }

    #[test]
    fn nothing_but_a_comment_follows_the_address() {
        assert_eq!(
            parse_mailbox("A B <a@b.org> (work)").unwrap().addr,
            "a@b.org"
        );
        let e = parse_mailbox("A B <a@b.org> <c@d.org>").unwrap_err();
        assert!(e.0.contains("<c@d.org>"), "{e:?}");
        assert!(parse_mailbox("A B <a@b.org> trailing").is_err());
    }

    #[test]
    fn rfc2047_round_trip() {
        let e = encode_rfc2047("Jürgen Groß");
        assert_eq!(decode_rfc2047(&e), "Jürgen Groß");
        assert_eq!(
            decode_rfc2047("=?UTF-8?B?SsO8cmdlbg==?= =?UTF-8?q?_Gro=C3=9F?= <a@b>"),
            "Jürgen Groß <a@b>"
        );
    }

    #[test]
    fn b_words_with_or_without_padding() {
        assert_eq!(decode_rfc2047("=?UTF-8?B?SsO8cmdlbg?="), "Jürgen");
        assert_eq!(decode_rfc2047("=?utf-8?b?R3Jvw58=?="), "Groß");
        assert_eq!(decode_rfc2047("=?ISO-8859-1?B?R3Lf?="), "Grß");
        // Not base64: the word stays as it was written.
        assert_eq!(decode_rfc2047("=?UTF-8?B?a#b?="), "=?UTF-8?B?a#b?=");
        // ... and the words around it are still decoded.
        assert_eq!(
            decode_rfc2047("=?UTF-8?B?a#b?= =?utf-8?b?R3Jvw58=?= <a@b>"),
            "=?UTF-8?B?a#b?= Groß <a@b>"
        );
    }
}
