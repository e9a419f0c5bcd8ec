//! The library's one JSON reader and writer, small on purpose: every stored value, hub page and
//! option set is read here (natively and in wasm alike, so tests and fuzzing exercise exactly what
//! ships), and every value the library writes is written here.
//!
//! The reader is strict RFC 8259 with bounds: at most [`MAX_LEN`] bytes and [`MAX_DEPTH`] levels
//! of nesting, string escapes including `\u` surrogate pairs (a lone surrogate is refused), no
//! trailing text. Numbers are kept as their text: the store protocol reads only exact integers
//! ([`Json::as_u64`]), and only the options read decimals ([`decimal`]). No `core::fmt`, no
//! float parsing from the standard library, so the wasm build carries neither.
//!
//! The writer produces the same bytes as `serde_json::to_string` and `JSON.stringify` for the
//! shapes the library writes (strings, integers, booleans, null, objects in field order).

use alloc::borrow::Cow;
use alloc::{string::String, vec::Vec};

/// Longest JSON text read, in bytes (stored values are under 2 KiB, hub pages under 200 KiB).
pub const MAX_LEN: usize = 1 << 20;

/// Deepest nesting read (the deepest shape the library reads has three levels).
pub const MAX_DEPTH: usize = 16;

/// A parsed JSON value borrowing from its text where it can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (checked against the RFC's grammar).
    Num(&'a str),
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// An array.
    Arr(Vec<Json<'a>>),
    /// An object's members in the order written (duplicates kept; [`Object::get`] refuses them).
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Parses `text` as one JSON value; `None` for anything that is not exactly that.
pub fn parse(text: &str) -> Option<Json<'_>> {
    if text.len() > MAX_LEN {
        return None;
    }
    let mut p = Parser { text, pos: 0 };
    let value = p.value(0)?;
    p.ws();
    (p.pos == text.len()).then_some(value)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    fn word(&mut self, word: &str, value: Json<'a>) -> Option<Json<'a>> {
        let end = self.pos.checked_add(word.len())?;
        (self.text.as_bytes().get(self.pos..end)? == word.as_bytes()).then(|| {
            self.pos = end;
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Json<'a>> {
        self.ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Json::Str),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => self.number().map(Json::Num),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Json<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let mut members = Vec::new();
        self.ws();
        if self.eat(b'}') {
            return Some(Json::Obj(members));
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            if !self.eat(b':') {
                return None;
            }
            members.push((key, self.value(depth + 1)?));
            self.ws();
            if self.eat(b'}') {
                return Some(Json::Obj(members));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Json<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Some(Json::Arr(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b']') {
                return Some(Json::Arr(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        self.text.get(start..self.pos)
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.pos.checked_add(4)?;
        let digits = self.text.get(self.pos..end)?;
        let mut value = 0;
        for b in digits.bytes() {
            value = value * 16 + char::from(b).to_digit(16)?;
        }
        self.pos = end;
        Some(value)
    }

    /// A string starting at the opening quote. Every byte the scan stops at is ASCII, so each
    /// slice taken lies on character boundaries.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let mut start = self.pos;
        let mut out: Option<String> = None;
        loop {
            match self.peek()? {
                b'"' => {
                    let run = self.text.get(start..self.pos)?;
                    self.pos += 1;
                    return Some(match out {
                        None => Cow::Borrowed(run),
                        Some(mut s) => {
                            s.push_str(run);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = out.get_or_insert_with(String::new);
                    s.push_str(self.text.get(start..self.pos)?);
                    self.pos += 1;
                    let escaped = match self.peek()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.pos += 1;
                            let unit = self.unicode()?;
                            s.push(unit);
                            start = self.pos;
                            continue;
                        }
                        _ => return None,
                    };
                    s.push(escaped);
                    self.pos += 1;
                    start = self.pos;
                }
                0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// The character of a `\u` escape (after the `u`), reading a low surrogate's escape after a
    /// high one; a lone surrogate is refused.
    fn unicode(&mut self) -> Option<char> {
        let unit = self.hex4()?;
        match unit {
            0xD800..=0xDBFF => {
                if !(self.eat(b'\\') && self.eat(b'u')) {
                    return None;
                }
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            }
            _ => char::from_u32(unit),
        }
    }
}

impl<'a> Json<'a> {
    /// The object's members, when this is an object.
    pub fn object(&self) -> Option<Object<'_, 'a>> {
        match self {
            Self::Obj(members) => Some(Object { members }),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A non-negative integer written without fraction or exponent that fits in `u64`; `None`
    /// for any other value. Every integer the writer writes reads back: a native host may hand
    /// the core any `u64` time, while the JS hosts clamp theirs below 2^53 (`ms` in the wasm
    /// bindings), so what they store stays exact in JS too.
    pub fn as_u64(&self) -> Option<u64> {
        let Self::Num(text) = self else {
            return None;
        };
        // The grammar already refused leading zeros; a sign, fraction or exponent is not a digit.
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.bytes().try_fold(0u64, |n, b| {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
    }

    /// [`as_u64`](Self::as_u64) within `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|n| u32::try_from(n).ok())
    }
}

/// An object's members, read by name.
#[derive(Clone, Copy, Debug)]
pub struct Object<'j, 'a> {
    members: &'j [(Cow<'a, str>, Json<'a>)],
}

/// A field that is present but unusable: written twice, or of the wrong type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

impl<'j, 'a> Object<'j, 'a> {
    /// The members in the order written.
    pub fn members(&self) -> &'j [(Cow<'a, str>, Json<'a>)] {
        self.members
    }

    /// The field `name`: `Ok(None)` when absent or `null`; [`Invalid`] when written twice.
    pub fn get(&self, name: &str) -> Result<Option<&'j Json<'a>>, Invalid> {
        let mut found = None;
        for (key, value) in self.members {
            if key == name {
                if found.is_some() {
                    return Err(Invalid);
                }
                found = Some(value);
            }
        }
        Ok(found.filter(|v| **v != Json::Null))
    }

    /// An optional field read with `read`; [`Invalid`] when present but `read` refuses it.
    pub fn opt<T>(
        &self,
        name: &str,
        read: impl FnOnce(&'j Json<'a>) -> Option<T>,
    ) -> Result<Option<T>, Invalid> {
        match self.get(name)? {
            None => Ok(None),
            Some(value) => read(value).map(Some).ok_or(Invalid),
        }
    }

    /// A required field read with `read`.
    pub fn req<T>(&self, name: &str, read: impl FnOnce(&'j Json<'a>) -> Option<T>) -> Option<T> {
        self.opt(name, read).ok().flatten()
    }

    /// A required integer field (see [`Json::as_u64`]).
    pub fn u64(&self, name: &str) -> Option<u64> {
        self.req(name, Json::as_u64)
    }

    /// A required `u32` field.
    pub fn u32(&self, name: &str) -> Option<u32> {
        self.req(name, Json::as_u32)
    }

    /// A required string field.
    pub fn str(&self, name: &str) -> Option<&'j str> {
        self.req(name, Json::as_str)
    }

    /// An optional string field.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'j str>, Invalid> {
        self.opt(name, Json::as_str)
    }
}

/// A decimal number as Rust's `f64` parser reads text, without its code: an optional sign, digits
/// with an optional fraction (`5`, `5.`, `.5`), an optional exponent; `inf`, `infinity` and
/// `nan` in any case. Exact (correctly rounded) for up to 15 significant digits and exponents
/// within 10^±22, and within a few units in the last place beyond: the options read durations
/// and bounds, never values where the last bit matters.
pub fn decimal(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let magnitude = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => finite(body.as_bytes())?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn finite(bytes: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut scale: i32 = 0;
    let mut digits = 0;
    let mut rest = bytes;
    let mut fraction = false;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if mantissa < 100_000_000_000_000_000 {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    scale -= i32::from(fraction);
                } else {
                    // Digits past the 18th only round: drop them, keeping their magnitude.
                    scale += i32::from(!fraction);
                }
            }
            b'.' if !fraction => fraction = true,
            _ => break,
        }
        rest = tail;
    }
    if digits == 0 {
        return None;
    }
    if let Some((b'e' | b'E', tail)) = rest.split_first() {
        let (sign, tail) = match tail.split_first() {
            Some((b'-', t)) => (-1, t),
            Some((b'+', t)) => (1, t),
            _ => (1, tail),
        };
        if tail.is_empty() {
            return None;
        }
        let mut exponent: i32 = 0;
        for &b in tail {
            if !b.is_ascii_digit() {
                return None;
            }
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i32::from(b - b'0'));
        }
        scale = scale.saturating_add(sign * exponent);
        rest = &[];
    }
    if !rest.is_empty() {
        return None;
    }
    let mut value = mantissa as f64;
    if value == 0.0 {
        return Some(0.0);
    }
    // One multiplication or division by an exact power of ten is correctly rounded.
    while scale > 0 {
        let step = scale.min(22);
        value *= pow10(step);
        scale -= step;
    }
    while scale < 0 {
        let step = (-scale).min(22);
        value /= pow10(step);
        scale += step;
    }
    Some(value)
}

fn pow10(n: i32) -> f64 {
    (0..n).fold(1.0, |p, _| p * 10.0)
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, n: u64) {
    push_u128(out, u128::from(n));
}

/// Appends `n` in decimal.
pub fn push_u128(out: &mut String, n: u128) {
    let mut digits = [0u8; 39];
    let mut at = digits.len();
    // u64 arithmetic when it fits: a u128 division is a library call in wasm.
    let (mut high, mut low) = match u64::try_from(n) {
        Ok(small) => (0, small),
        Err(_) => (
            n / 10_000_000_000_000_000_000,
            (n % 10_000_000_000_000_000_000) as u64,
        ),
    };
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (low % 10) as u8;
        }
        low /= 10;
        if low == 0 && high == 0 || at == 0 {
            break;
        }
        if low == 0 && (digits.len() - at) % 19 == 0 {
            // 19 digits are done: carry on with the next ones up (zero-padded above).
            low = (high % 10_000_000_000_000_000_000) as u64;
            high /= 10_000_000_000_000_000_000;
        }
    }
    if let Ok(text) = core::str::from_utf8(digits.get(at..).unwrap_or_default()) {
        out.push_str(text);
    }
}

/// `n` in decimal.
pub fn itoa(n: u64) -> String {
    let mut out = String::new();
    push_u64(&mut out, n);
    out
}

/// Appends `n` as the JSON number of the `f64` nearest to it: a JS host holds every number as
/// an `f64`, so a hostile `u64` crosses rounded instead of failing to convert.
pub fn push_u64_as_f64(out: &mut String, n: u64) {
    // An integral f64 below 2^64 (or 2^64 itself) converts to u128 exactly.
    push_u128(out, n as f64 as u128);
}

/// Appends `ms / 1000` as a JSON number (seconds): the same `f64` as `ms as f64 / 1000.0`, since
/// both are the `f64` nearest to that decimal.
pub fn push_seconds(out: &mut String, ms: u64) {
    push_u64(out, ms / 1000);
    let mut frac = ms % 1000;
    if frac != 0 {
        out.push('.');
        let mut place = 100;
        while frac != 0 {
            out.push(char::from(b'0' + (frac / place) as u8));
            frac %= place;
            place /= 10;
        }
    }
}

/// Appends `s` as a JSON string, escaped as `serde_json` and `JSON.stringify` escape it.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i - 1).unwrap_or_default());
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(hex(b >> 4));
            out.push(hex(b & 0xf));
        } else {
            out.push_str(escape);
        }
        start = i;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// A lowercase hex digit, as `serde_json` and `JSON.stringify` write escapes.
fn hex(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// Writes a JSON object member by member, in the order given.
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> ObjectWriter<'o> {
    /// Opens an object at the end of `out`.
    pub fn new(out: &'o mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    /// Starts member `name` (a plain identifier, never escaped) and returns the output for its
    /// value.
    pub fn key(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    /// A string member.
    pub fn str(&mut self, name: &str, value: &str) -> &mut Self {
        push_str(self.key(name), value);
        self
    }

    /// A string member, `null` when `None`.
    pub fn opt_str(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(name, v),
            None => self.raw(name, "null"),
        }
    }

    /// An integer member.
    pub fn u64(&mut self, name: &str, value: u64) -> &mut Self {
        push_u64(self.key(name), value);
        self
    }

    /// An integer member, `null` when `None`.
    pub fn opt_u64(&mut self, name: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(v) => self.u64(name, v),
            None => self.raw(name, "null"),
        }
    }

    /// A boolean member.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.raw(name, if value { "true" } else { "false" })
    }

    /// A member whose value is JSON text already.
    pub fn raw(&mut self, name: &str, json: &str) -> &mut Self {
        self.key(name).push_str(json);
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push('}');
    }
}

/// Appends the JSON array of `items`, each written by `write`.
pub fn push_array<T>(
    out: &mut String,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

/// JSON text as `serde_json` values with every number as an `f64`, as a JS host reads it: for
/// tests comparing what the writers here produce with what serde wrote.
#[cfg(test)]
pub fn as_js(text: &str) -> serde_json::Value {
    fn numbers(v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value as V;
        match v {
            V::Number(n) => n.as_f64().map_or(V::Null, |f| {
                serde_json::Number::from_f64(f).map_or(V::Null, V::Number)
            }),
            V::Array(items) => V::Array(items.into_iter().map(numbers).collect()),
            V::Object(map) => V::Object(map.into_iter().map(|(k, v)| (k, numbers(v))).collect()),
            other => other,
        }
    }
    numbers(serde_json::from_str(text).expect("JSON text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_integers_at_every_boundary() {
        let tens = (0..=38).map(|e| 10u128.pow(e));
        let values = tens.flat_map(|t| [t - 1, t, t + 1]).chain([
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ]);
        for n in values {
            let mut out = String::new();
            push_u128(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn reads_what_the_rfc_allows() {
        let v = parse(" {\"a\" : [1, -2.5e+3, true, false, null, \"x\"], \"b\":{}} ").unwrap();
        let o = v.object().unwrap();
        let Some(Json::Arr(items)) = o.get("a").unwrap() else {
            panic!("array")
        };
        assert_eq!(
            items,
            &[
                Json::Num("1"),
                Json::Num("-2.5e+3"),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null,
                Json::Str("x".into())
            ]
        );
        assert_eq!(o.get("b").unwrap(), Some(&Json::Obj(vec![])));
        assert_eq!(o.get("c"), Ok(None));
        assert_eq!(parse("[]"), Some(Json::Arr(vec![])));
        assert_eq!(parse("0"), Some(Json::Num("0")));
    }

    #[test]
    fn refuses_what_it_does_not() {
        for bad in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "'a'",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"a\u{1}\"",
            "1 2",
            "{} x",
            "\u{feff}{}",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&deep).is_some());
        let deeper = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deeper), None);
        let long = format!("\"{}\"", "x".repeat(MAX_LEN));
        assert_eq!(parse(&long), None);
        // Unbounded nesting never recurses past the limit (no stack overflow).
        assert_eq!(parse(&"[".repeat(100_000)), None);
    }

    #[test]
    fn unescapes_strings() {
        let v = parse(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1f600}z"));
        assert!(matches!(
            parse("\"plain é\"").unwrap(),
            Json::Str(Cow::Borrowed("plain é"))
        ));
    }

    #[test]
    fn integers_are_exact_and_bounded() {
        let n = |t: &str| parse(t).and_then(|v| v.as_u64());
        assert_eq!(n("0"), Some(0));
        assert_eq!(n("9007199254740991"), Some((1 << 53) - 1));
        assert_eq!(n("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "18446744073709551616",
            "99999999999999999999999",
            "-1",
            "-0",
            "1.0",
            "1e3",
            "\"1\"",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
        assert_eq!(parse("4294967295").and_then(|v| v.as_u32()), Some(u32::MAX));
        assert_eq!(parse("4294967296").and_then(|v| v.as_u32()), None);
    }

    #[test]
    fn duplicate_fields_are_refused_by_name() {
        let v = parse(r#"{"a":1,"a":2,"b":null}"#).unwrap();
        let o = v.object().unwrap();
        assert_eq!(o.get("a"), Err(Invalid));
        assert_eq!(o.get("b"), Ok(None));
        assert_eq!(o.u64("a"), None);
    }

    #[test]
    fn decimals_read_as_rust_reads_them() {
        for text in [
            "0",
            "30",
            "30.5",
            "0.1",
            "2.5",
            "5.",
            ".5",
            "+5",
            "-1",
            "1e3",
            "1E-3",
            "1e10",
            "43200",
            "1e21",
            "0.000001",
            "123456789.123",
            "1e400",
            "-0",
            "00012",
        ] {
            let ours = decimal(text).unwrap();
            let std: f64 = text.parse().unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{text}");
        }
        for text in ["inf", "Infinity", "-INF", "NaN", "nan"] {
            let std: f64 = text.parse().unwrap();
            assert_eq!(decimal(text).map(f64::is_nan), Some(std.is_nan()), "{text}");
            assert_eq!(decimal(text).map(f64::is_finite), Some(false), "{text}");
        }
        for bad in [
            "", ".", "e5", "1e", "1e+", "soon", "0x10", "1,5", "1 ", "--1", "1.2.3",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
            assert!(bad.parse::<f64>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_as_serde_json_does() {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("s", "q\"b\\n\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é\u{2028}")
            .u64("n", u64::MAX)
            .bool("t", true)
            .opt_str("z", None);
        o.end();
        assert_eq!(
            out,
            r#"{"s":"q\"b\\n\n\r\t\b\f\u0001\u001f"#.to_owned()
                + "\u{7f}é\u{2028}\",\"n\":18446744073709551615,\"t\":true,\"z\":null}"
        );
        let mut arr = String::new();
        push_array(&mut arr, [1u64, 2, 3], push_u64);
        assert_eq!(arr, "[1,2,3]");
        assert_eq!(itoa(0), "0");
        let mut s = String::new();
        push_u64_as_f64(&mut s, u64::MAX);
        assert_eq!(s, "18446744073709551616");
        for ms in [
            0, 1, 10, 100, 999, 1000, 30_500, 43_200_000, 1_234_567, 5_001,
        ] {
            let mut s = String::new();
            push_seconds(&mut s, ms);
            let read: f64 = s.parse().unwrap();
            assert_eq!(
                read.to_bits(),
                (ms as f64 / 1000.0).to_bits(),
                "{ms} -> {s}"
            );
        }
    }
}
