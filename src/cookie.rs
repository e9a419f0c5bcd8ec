//! Finding the session cookie in a `Cookie` header, and building `Set-Cookie` values.

use crate::{ConfigError, RejectReason};
use alloc::{borrow::ToOwned, string::String};

/// Largest `Cookie` header read, in bytes. Browsers send at most a few KiB per site; anything
/// larger is refused without being scanned.
pub const MAX_COOKIE_HEADER_LEN: usize = 16 * 1024;

/// Longest cookie name accepted.
pub const MAX_COOKIE_NAME_LEN: usize = 64;

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Also sent on top-level cross-site navigations (the default).
    Lax,
    /// Sent on all requests; requires `Secure`.
    None,
}

impl SameSite {
    /// Parses `Strict`, `Lax` or `None` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "strict" => Ok(Self::Strict),
            "lax" => Ok(Self::Lax),
            "none" => Ok(Self::None),
            _ => Err(ConfigError::InvalidCookie(
                "sameSite must be Strict, Lax or None",
            )),
        }
    }

    const fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// How the session cookie is named and scoped. Always `HttpOnly`.
///
/// ```
/// use edge_session::CookieConfig;
/// let c = CookieConfig::default();
/// assert_eq!(c.set_cookie("abc", 60), "__Host-session=abc; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax");
/// assert!(CookieConfig::new("__Host-x", true, edge_session::SameSite::Lax, "/app", None).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    name: String,
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "__Host-session".to_owned(),
            secure: true,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
        }
    }
}

fn is_token_char(b: u8) -> bool {
    // RFC 9110 tchar.
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn safe_attribute(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b';' && b != b',')
}

impl CookieConfig {
    /// Checks and builds a cookie configuration, enforcing the prefix rules: `__Host-` needs
    /// `Secure`, `Path=/` and no `Domain`; `__Secure-` needs `Secure`; `SameSite=None` needs
    /// `Secure`. Attribute values with `;`, `,`, spaces, CR, LF or other control bytes are refused.
    pub fn new(
        name: &str,
        secure: bool,
        same_site: SameSite,
        path: &str,
        domain: Option<&str>,
    ) -> Result<Self, ConfigError> {
        if name.is_empty() || name.len() > MAX_COOKIE_NAME_LEN || !name.bytes().all(is_token_char) {
            return Err(ConfigError::InvalidCookie(
                "name must be 1-64 token characters",
            ));
        }
        if !safe_attribute(path) || !path.starts_with('/') {
            return Err(ConfigError::InvalidCookie(
                "path must start with / and contain no ; , spaces or control bytes",
            ));
        }
        if let Some(domain) = domain {
            if !safe_attribute(domain) {
                return Err(ConfigError::InvalidCookie(
                    "domain must contain no ; , spaces or control bytes",
                ));
            }
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("__host-") && (!secure || path != "/" || domain.is_some()) {
            return Err(ConfigError::InvalidCookie(
                "__Host- cookies need Secure, Path=/ and no Domain",
            ));
        }
        if lower.starts_with("__secure-") && !secure {
            return Err(ConfigError::InvalidCookie("__Secure- cookies need Secure"));
        }
        if same_site == SameSite::None && !secure {
            return Err(ConfigError::InvalidCookie("SameSite=None needs Secure"));
        }
        Ok(Self {
            name: name.to_owned(),
            secure,
            same_site,
            path: path.to_owned(),
            domain: domain.map(str::to_owned),
        })
    }

    /// The cookie's full name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Set-Cookie` value carrying `value` for `max_age_secs` seconds. The value must be
    /// cookie-safe (an envelope always is).
    pub fn set_cookie(&self, value: &str, max_age_secs: u64) -> String {
        // Written without `core::fmt` (which the wasm build leaves out).
        let mut out = [self.name.as_str(), "=", value, "; Max-Age="].concat();
        crate::json::push_u64(&mut out, max_age_secs);
        out.push_str("; Path=");
        out.push_str(&self.path);
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; HttpOnly; SameSite=");
        out.push_str(self.same_site.as_str());
        out
    }

    /// The `Set-Cookie` value that deletes the cookie (logout, rejected cookies).
    pub fn clear_cookie(&self) -> String {
        self.set_cookie("", 0)
    }

    /// Finds this cookie's value in a `Cookie` request header.
    ///
    /// `Ok(None)` when absent. Refuses oversized headers, the name appearing more than once (an
    /// attacker who can plant a cookie must not get to choose which one wins) and values that
    /// are not plain cookie octets.
    pub fn find_in<'h>(&self, header: &'h str) -> Result<Option<&'h str>, RejectReason> {
        find_cookie(header, &self.name)
    }

    /// [`find_cookie_octets`] for this cookie's name.
    pub fn find_octets_in<'h>(&self, header: &'h [u8]) -> Result<Option<&'h [u8]>, RejectReason> {
        find_cookie_octets(header, &self.name)
    }
}

/// Finds `name`'s value in a `Cookie` header; see [`CookieConfig::find_in`].
pub fn find_cookie<'h>(header: &'h str, name: &str) -> Result<Option<&'h str>, RejectReason> {
    let Some(value) = find_cookie_octets(header.as_bytes(), name)? else {
        return Ok(None);
    };
    // Envelopes are base64url: anything else in the value (quotes, spaces, controls, non-ASCII)
    // is refused here, before any decoding.
    if !value
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return Err(RejectReason::Malformed);
    }
    core::str::from_utf8(value)
        .map(Some)
        .map_err(|_| RejectReason::Malformed)
}

/// The scan of [`find_cookie`] over the header's bytes, without its check of the value's
/// characters: `Ok(Some(value))` is non-empty but may hold any byte but `;`. For callers that
/// decode the value as base64url straight away (which refuses every other byte, with the same
/// reason), so the fast path reads the header once.
pub fn find_cookie_octets<'h>(
    header: &'h [u8],
    name: &str,
) -> Result<Option<&'h [u8]>, RejectReason> {
    if header.len() > MAX_COOKIE_HEADER_LEN {
        return Err(RejectReason::HeaderTooLarge);
    }
    // Every delimiter is ASCII, so a byte scan never splits a UTF-8 character it matters for.
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let mut found: Option<&'h [u8]> = None;
    let mut rest = Some(header);
    while let Some(unread) = rest {
        let (pair, after) = match find_byte(unread, b';') {
            Some(at) => (unread.get(..at).unwrap_or_default(), unread.get(at + 1..)),
            None => (unread, None),
        };
        rest = after;
        let Some(eq) = pair.iter().position(|b| *b == b'=') else {
            continue;
        };
        let (key, value) = pair.split_at(eq);
        let key_start = key.iter().position(|b| !blank(b)).unwrap_or(key.len());
        let key_end = key.iter().rposition(|b| !blank(b)).map_or(0, |i| i + 1);
        if key.get(key_start..key_end.max(key_start)) != Some(name.as_bytes()) {
            continue;
        }
        if found.is_some() {
            return Err(RejectReason::DuplicateCookie);
        }
        let value = value.get(1..).unwrap_or_default();
        let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
        let end = value.iter().rposition(|b| !blank(b)).map_or(0, |i| i + 1);
        found = Some(value.get(start..end.max(start)).unwrap_or_default());
    }
    // An empty value is what a clearing cookie leaves behind: treat it as no session.
    Ok(found.filter(|value| !value.is_empty()))
}

/// Where `needle` first occurs in `haystack`: eight bytes at a time (the "has a zero byte" test
/// on `word ^ needle × 0x01…01`), since the fast path looks for `;` across every Cookie header.
/// The lowest flagged byte is always a true match; higher ones may not be, and are never used.
fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const LOW: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let pattern = LOW * u64::from(needle);
    let mut rest = haystack;
    let mut at = 0;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let x = u64::from_le_bytes(*word) ^ pattern;
        let found = x.wrapping_sub(LOW) & !x & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
        rest = tail;
    }
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        if b == needle {
            return Some(at + i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "__Host-session";

    #[test]
    fn finds_the_cookie_among_others() {
        assert_eq!(find_cookie("", N), Ok(None));
        assert_eq!(
            find_cookie("a=b; __Host-session=abc_-9; c=d", N),
            Ok(Some("abc_-9"))
        );
        assert_eq!(find_cookie("__Host-session=abc", N), Ok(Some("abc")));
        assert_eq!(find_cookie("__host-session=abc", N), Ok(None));
        assert_eq!(find_cookie("x__Host-session=abc", N), Ok(None));
        assert_eq!(find_cookie("__Host-session=", N), Ok(None));
    }

    #[test]
    fn finds_the_first_byte_eight_at_a_time_as_position_does() {
        let mut hay: Vec<u8> = (0..=255u8).collect();
        hay.extend((0..=255u8).rev());
        for start in 0..20 {
            for end in start..hay.len().min(start + 40) {
                let slice = &hay[start..end];
                for needle in [0u8, 1, 0x3b, 0x7f, 0x80, 0xfe, 0xff, hay[start]] {
                    let want = slice.iter().position(|b| *b == needle);
                    assert_eq!(find_byte(slice, needle), want, "{start}..{end} {needle}");
                }
            }
        }
        assert_eq!(find_byte(b";;;;;;;;;", b';'), Some(0));
        assert_eq!(find_byte(b"abcdefg;hij;", b';'), Some(7));
        assert_eq!(find_byte(b"abcdefgh;", b';'), Some(8));
        assert_eq!(find_byte(b"\x3a\x3c\xbb;", b';'), Some(3));
    }

    #[test]
    fn the_octet_scan_finds_what_find_cookie_finds() {
        for header in [
            "",
            "a=b; __Host-session=abc_-9; c=d",
            " __Host-session = \tabc ;x=1",
            "__Host-session=",
            "__Host-session=a; __Host-session=b",
            "__Host-session=\"abc\"",
            "__Host-session=ab%3D",
            "__Host-session=é",
            "x__Host-session=abc",
        ] {
            let text = find_cookie(header, N);
            let octets = find_cookie_octets(header.as_bytes(), N);
            match (text, octets) {
                (Ok(t), Ok(o)) => assert_eq!(t.map(str::as_bytes), o, "{header}"),
                // The octet scan leaves the value's characters to the base64url decoder.
                (Err(RejectReason::Malformed), Ok(Some(_))) => {}
                (t, o) => assert_eq!(t.map(|_| ()), o.map(|_| ()), "{header}"),
            }
        }
    }

    #[test]
    fn hostile_headers() {
        assert_eq!(
            find_cookie("__Host-session=a; __Host-session=b", N),
            Err(RejectReason::DuplicateCookie)
        );
        assert_eq!(
            find_cookie("__Host-session=a;__Host-session=a", N),
            Err(RejectReason::DuplicateCookie)
        );
        let big = "a".repeat(64 * 1024);
        assert_eq!(find_cookie(&big, N), Err(RejectReason::HeaderTooLarge));
        let thousand: Vec<String> = (0..1000).map(|i| format!("c{i}=v{i}")).collect();
        let header = format!("{}; __Host-session=ok", thousand.join("; "));
        assert_eq!(find_cookie(&header, N), Ok(Some("ok")));
        for bad in [
            "\"abc\"", "a b", "a\u{1}b", "ab\u{e9}", "a=b", "a+b", "a/b=",
        ] {
            let header = format!("__Host-session={bad}");
            assert_eq!(
                find_cookie(&header, N),
                Err(RejectReason::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(find_cookie(";;;=;=;;", N), Ok(None));
        assert_eq!(find_cookie("\u{0}\u{7f}\u{ffff}", N), Ok(None));
    }

    #[test]
    fn set_cookie_attributes() {
        let c = CookieConfig::default();
        assert_eq!(
            c.clear_cookie(),
            "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let c = CookieConfig::new("sid", false, SameSite::Strict, "/app", Some("example.com"));
        assert_eq!(
            c.map(|c| c.set_cookie("v", 5)),
            Ok("sid=v; Max-Age=5; Path=/app; Domain=example.com; HttpOnly; SameSite=Strict".into())
        );
    }

    #[test]
    fn refuses_bad_attributes() {
        let lax = SameSite::Lax;
        for (name, secure, same_site, path, domain) in [
            ("", true, lax, "/", None),
            ("a b", true, lax, "/", None),
            ("a;b", true, lax, "/", None),
            ("__Host-s", false, lax, "/", None),
            ("__Host-s", true, lax, "/x", None),
            ("__Host-s", true, lax, "/", Some("example.com")),
            ("__Secure-s", false, lax, "/", None),
            ("s", false, SameSite::None, "/", None),
            ("s", true, lax, "/;x", None),
            ("s", true, lax, "/\r\nSet-Cookie: x", None),
            ("s", true, lax, "/", Some("a.com; Secure")),
            ("s", true, lax, "/", Some("a.com\n")),
            ("s", true, lax, "nope", None),
        ] {
            assert!(
                CookieConfig::new(name, secure, same_site, path, domain).is_err(),
                "{name:?} {path:?} {domain:?}"
            );
        }
        assert!(SameSite::parse("lax").is_ok());
        assert!(SameSite::parse("sometimes").is_err());
    }
}
