//! A minimal JSON parser for the shared test vectors (the crate has no dependencies).
//!
//! Supports objects, arrays, numbers, strings (with the standard escapes, including `\uXXXX`
//! and surrogate pairs), `true`, `false` and `null`. Numbers are parsed with Rust's correctly
//! rounded `str::parse::<f64>`, so a double written by Python's `repr` comes back bit-exact.
//! The vectors encode non-finite numbers as the strings "inf", "-inf" and "nan"; [`Json::num`]
//! accepts those too.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    /// Parses a whole document (trailing whitespace allowed, anything else is an error).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing characters at byte {}", p.i));
        }
        Ok(v)
    }

    /// The member `key` of an object, if this is an object and it has one.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key),
            _ => None,
        }
    }

    /// The member `key` of an object; panics with the key's name if absent.
    pub fn at(&self, key: &str) -> &Json {
        self.get(key)
            .unwrap_or_else(|| panic!("missing key {key:?} in {}", self.brief()))
    }

    /// A number, or one of the strings "inf", "-inf", "nan".
    pub fn num(&self) -> f64 {
        match self {
            Json::Num(v) => *v,
            Json::Str(s) if s == "inf" => f64::INFINITY,
            Json::Str(s) if s == "-inf" => f64::NEG_INFINITY,
            Json::Str(s) if s == "nan" => f64::NAN,
            other => panic!("not a number: {}", other.brief()),
        }
    }

    /// An integer-valued number.
    pub fn int(&self) -> i64 {
        let v = self.num();
        assert!(v.fract() == 0.0 && v.abs() < 9.0e15, "not an integer: {v}");
        v as i64
    }

    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {}", other.brief()),
        }
    }

    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {}", other.brief()),
        }
    }

    /// An array of numbers (non-finite ones as strings allowed).
    pub fn nums(&self) -> Vec<f64> {
        self.arr().iter().map(Json::num).collect()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    fn brief(&self) -> String {
        let s = format!("{self:?}");
        if s.len() > 120 {
            format!("{}…", &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)])
        } else {
            s
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected {:?}", b as char))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("invalid literal")
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek() {
            None => self.err("unexpected end"),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.expect(b'{')?;
        let mut m = BTreeMap::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Json::Obj(m));
        }
        loop {
            self.ws();
            let k = self.string()?;
            self.ws();
            self.expect(b':')?;
            self.ws();
            let v = self.value()?;
            if m.insert(k.clone(), v).is_some() {
                return self.err(&format!("duplicate key {k:?}"));
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                _ => return self.err("expected ',' or '}'"),
            }
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.expect(b'[')?;
        let mut a = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Json::Arr(a));
        }
        loop {
            self.ws();
            a.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                _ => return self.err("expected ',' or ']'"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| format!("short \\u escape at byte {}", self.i))?;
        let h = std::str::from_utf8(h).map_err(|e| e.to_string())?;
        let v = u32::from_str_radix(h, 16).map_err(|_| format!("bad \\u escape at byte {}", self.i))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            // Copy a run of plain bytes at once (keeps multi-byte UTF-8 intact).
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                if self.s[self.i] < 0x20 {
                    return self.err("control character in string");
                }
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?);
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {
                    self.i += 1; // the backslash
                    let c = self.peek().ok_or("unterminated escape")?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return self.err("lone high surrogate");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("bad low surrogate");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).ok_or("invalid code point")?);
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
            }
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.i += 1;
            }
            p.i - s
        };
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.err("expected a digit"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return self.err("expected a digit after '.'");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return self.err("expected an exponent");
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        text.parse::<f64>()
            .map(Json::Num)
            .map_err(|e| format!("{e} in {text:?}"))
    }
}

/// Self-tests of the parser, run from each test binary that includes this module.
pub fn self_test() {
    let v = Json::parse(
        r#" { "a": [1, -2.5e-3, 0, true, false, null, "x\"\\\/\n\u00e9\ud83d\ude00"], "b": {}, "c": [] } "#,
    )
    .unwrap();
    let a = v.at("a").arr();
    assert_eq!(a[0], Json::Num(1.0));
    assert_eq!(a[1], Json::Num(-2.5e-3));
    assert_eq!(a[3], Json::Bool(true));
    assert_eq!(a[4], Json::Bool(false));
    assert!(a[5].is_null());
    assert_eq!(a[6].str(), "x\"\\/\n\u{e9}\u{1F600}");
    assert_eq!(v.at("b"), &Json::Obj(BTreeMap::new()));
    assert!(v.at("c").arr().is_empty());
    // Bit-exact round trip of doubles, including subnormals.
    assert_eq!(
        Json::parse("9.85967654375977e-305").unwrap().num(),
        9.85967654375977e-305
    );
    assert_eq!(Json::parse("5e-324").unwrap().num().to_bits(), 1);
    assert_eq!(Json::parse("0.1").unwrap().num(), 0.1);
    assert!(Json::parse(r#""nan""#).unwrap().num().is_nan());
    assert_eq!(Json::parse(r#""-inf""#).unwrap().num(), f64::NEG_INFINITY);
    for bad in [
        "",
        "[1,]",
        "{\"a\" 1}",
        "01",
        "1.",
        "-",
        "[1] x",
        "\"abc",
        "tru",
        "{\"a\":1,\"a\":2}",
    ] {
        assert!(Json::parse(bad).is_err(), "accepted {bad:?}");
    }
}
