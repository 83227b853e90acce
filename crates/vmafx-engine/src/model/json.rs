//! A small JSON reader for model files that keeps every number's source text.
//!
//! libvmaf reads model numbers with `strtod` on the literal text (correctly rounded) and
//! normalises extractor option values with `strtof` on that same text. serde_json's default
//! float parsing is only "best effort" (it can be one ulp off for 17-digit literals such as
//! the slopes in the VMAF models), so model loading uses this reader instead: numbers stay as
//! text until the caller decides whether it needs an `f64` or an `f32` reading of them.

use std::fmt;

/// A parsed JSON value. Objects keep their members in document order, duplicates included,
/// because libvmaf walks them as a stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// The literal text of a number, already checked against the JSON number grammar.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Why a document could not be read, with the byte offset where reading stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonError {
    pub offset: usize,
    pub message: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

/// Nesting deeper than this is refused so that hostile input cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most values (numbers, strings, literals, arrays, objects) one document may hold. A parsed
/// value takes several times the bytes of its text (`[0,0,...]` spends 2 bytes a value), so
/// this bounds the memory a document can claim; libvmaf's largest model collections hold a few
/// thousand.
pub(crate) const MAX_VALUES: usize = 1 << 20;

/// Longest piece of input quoted in an error message.
const MAX_QUOTED_CHARS: usize = 48;

/// `text` as it may appear inside a one-line error message: at most [`MAX_QUOTED_CHARS`]
/// characters, with control characters, quotes and backslashes escaped.
pub(crate) fn quoted(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_QUOTED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX_QUOTED_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

impl Json {
    /// Parses a complete document; anything but whitespace after the top value is an error.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut reader = Reader {
            bytes: text.as_bytes(),
            pos: 0,
            values: 0,
        };
        reader.skip_whitespace();
        let value = reader.value(0)?;
        reader.skip_whitespace();
        if reader.pos != reader.bytes.len() {
            return Err(reader.error("unexpected data after the top-level value"));
        }
        Ok(value)
    }

    /// The value of the last member named `key`, if this is an object that has one.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number as `f64`, rounded exactly as C's `strtod` rounds it; `None` for anything
    /// but a number, and for a number too large for `f64` (`1e999`), which would read as
    /// infinity.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            // The grammar was checked while reading, so the standard parser accepts it; it is
            // correctly rounded, like glibc's strtod.
            Json::Number(text) => text.parse().ok().filter(|v: &f64| v.is_finite()),
            _ => None,
        }
    }

    /// For error messages: the number's text, or the kind of any other value.
    pub fn describe(&self) -> String {
        match self {
            Json::Number(text) => quoted(text),
            other => other.kind().to_string(),
        }
    }

    /// A short name for the value's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Values read so far, against [`MAX_VALUES`].
    values: usize,
}

impl Reader<'_> {
    fn error(&self, message: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect_literal(&mut self, literal: &'static str, value: Json) -> Result<Json, JsonError> {
        if self
            .bytes
            .get(self.pos..)
            .unwrap_or_default()
            .starts_with(literal.as_bytes())
        {
            self.pos += literal.len();
            Ok(value)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 64 levels"));
        }
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.error("more than 1048576 values"));
        }
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.expect_literal("true", Json::Bool(true)),
            Some(b'f') => self.expect_literal("false", Json::Bool(false)),
            Some(b'n') => self.expect_literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("malformed number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("malformed number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("malformed number"));
            }
        }
        // Only ASCII was consumed, so this slice is valid UTF-8.
        let text = String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned();
        Ok(Json::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos.saturating_add(4))
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let mut value = 0u32;
        for &d in digits {
            let nibble = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("bad \\u escape"))?;
            value = value * 16 + nibble;
        }
        self.pos += 4;
        Ok(value)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.error("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(self.error("control character in string")),
                _ => out.push(b),
            }
        }
        // The input is a &str and escapes were encoded as UTF-8, so this cannot fail; stay
        // defensive anyway rather than unwrap.
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in string"))
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if !self
                .bytes
                .get(self.pos..)
                .unwrap_or_default()
                .starts_with(b"\\u")
            {
                return Err(self.error("unpaired surrogate"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error("unpaired surrogate"));
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid code point"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_number_text_and_member_order() {
        let doc = Json::parse(
            r#" { "b": [1.0, -2e-3, 0.012020766332648465], "a": {"x": true, "y": null} } "#,
        )
        .unwrap();
        let Json::Object(members) = &doc else {
            panic!("not an object")
        };
        assert_eq!(members[0].0, "b");
        assert_eq!(members[1].0, "a");
        let Json::Array(items) = doc.get("b").unwrap() else {
            panic!("not an array")
        };
        assert_eq!(items[0], Json::Number("1.0".into()));
        assert_eq!(items[1].as_f64(), Some(-0.002));
        // The exact decimal-to-binary rounding strtod would produce.
        assert_eq!(items[2].as_f64(), Some(0.012020766332648465));
        assert_eq!(doc.get("a").unwrap().get("x"), Some(&Json::Bool(true)));
    }

    #[test]
    fn decodes_escapes() {
        let doc = Json::parse(r#""a\nb\t\"\u00e9\ud83d\ude00\/""#).unwrap();
        assert_eq!(doc, Json::String("a\nb\t\"é😀/".into()));
    }

    #[test]
    fn refuses_malformed_documents() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1.",
            "-",
            "1e",
            "tru",
            "\"abc",
            "[1] x",
            "\"\\q\"",
            "\"\\ud800\"",
            "{1: 2}",
        ] {
            assert!(Json::parse(bad).is_err(), "accepted {bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Json::parse(&deep).is_err());
    }

    #[test]
    fn nesting_and_value_count_are_bounded() {
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(Json::parse(&nested(MAX_DEPTH + 1)).is_ok());
        let err = Json::parse(&nested(MAX_DEPTH + 2)).unwrap_err().to_string();
        assert!(err.contains(&format!("deeper than {MAX_DEPTH}")), "{err}");
        // Far deeper than any stack would take if it recursed.
        assert!(Json::parse(&"[".repeat(1 << 20)).is_err());

        let values = |n: usize| format!("[{}0]", "0,".repeat(n - 2));
        assert!(Json::parse(&values(MAX_VALUES)).is_ok());
        let err = Json::parse(&values(MAX_VALUES + 1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("more than {MAX_VALUES} values")),
            "{err}"
        );
    }

    #[test]
    fn numbers_beyond_f64_are_not_numbers() {
        for text in ["1e999", "-1e999", "1e400"] {
            let value = Json::parse(text).unwrap();
            assert_eq!(value.as_f64(), None, "{text}");
            assert_eq!(value.describe(), text);
        }
        assert_eq!(Json::parse("1e-999").unwrap().as_f64(), Some(0.0));
        assert_eq!(Json::parse("[]").unwrap().describe(), "an array");
    }

    #[test]
    fn truncated_escapes_are_errors_not_panics() {
        for text in [
            "\"\\u12",
            "\"\\ud800\\u",
            "\"\\ud800\\",
            "\"\\ud800",
            "t",
            "nul",
            "-",
        ] {
            assert!(Json::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn quoting_escapes_and_cuts() {
        assert_eq!(quoted("a\nb\"c"), "a\\nb\\\"c");
        let long = "é".repeat(100);
        assert_eq!(
            quoted(&long),
            format!("{}...", "é".repeat(MAX_QUOTED_CHARS))
        );
    }
}
