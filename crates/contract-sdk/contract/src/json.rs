//! JSON for contracts, without floating point.
//!
//! Contracts must not contain floating-point instructions (every node must compute the same
//! result, and the chain rejects such modules at install time). General JSON libraries parse
//! numbers through `f64`, which puts float code into every contract that parses a number. This
//! codec handles integers only (up to 128 bits): a number with a fraction or exponent is an
//! error, and `f32`/`f64` fields are refused. Everything else serde describes works: structs,
//! enums (externally tagged), options, sequences, maps, strings with escapes.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::fmt;

use serde::{
    Deserialize, Serialize,
    de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor},
    ser::{self, SerializeMap, SerializeSeq, SerializeStruct, SerializeTuple},
};

/// A JSON error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for JsonError {}

impl de::Error for JsonError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JsonError(msg.to_string())
    }
}

impl ser::Error for JsonError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JsonError(msg.to_string())
    }
}

type Result<T> = core::result::Result<T, JsonError>;

fn err<T>(msg: &str) -> Result<T> {
    Err(JsonError(msg.into()))
}

/// Deserialize a value from JSON bytes.
pub fn from_slice<'a, T: Deserialize<'a>>(input: &'a [u8]) -> Result<T> {
    let mut d = Deserializer {
        input,
        pos: 0,
        depth: 0,
    };
    let v = T::deserialize(&mut d)?;
    d.skip_ws();
    if d.pos != d.input.len() {
        return err("trailing characters after JSON value");
    }
    Ok(v)
}

/// Serialize a value to JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut s = Serializer { out: Vec::new() };
    value.serialize(&mut s)?;
    Ok(s.out)
}

const MAX_DEPTH: u32 = 64;

struct Deserializer<'de> {
    input: &'de [u8],
    pos: usize,
    depth: u32,
}

enum Number {
    Unsigned(u128),
    Signed(i128),
}

impl<'de> Deserializer<'de> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn peek_token(&mut self) -> Result<u8> {
        self.skip_ws();
        self.peek()
            .ok_or_else(|| JsonError("unexpected end of JSON".into()))
    }

    fn expect(&mut self, b: u8) -> Result<()> {
        if self.peek_token()? == b {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError(format!(
                "expected '{}' at byte {}",
                b as char, self.pos
            )))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(JsonError(format!("invalid literal at byte {}", self.pos)))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("JSON nested too deeply");
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Number> {
        self.skip_ws();
        let neg = self.peek() == Some(b'-');
        if neg {
            self.pos += 1;
        }
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        let digits = &self.input[start..self.pos];
        if digits.is_empty() {
            return err("invalid number");
        }
        if digits.len() > 1 && digits[0] == b'0' {
            return err("numbers may not have leading zeros");
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return err("floating-point numbers are not supported; use integers or strings");
        }
        let mut v: u128 = 0;
        for d in digits {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((d - b'0') as u128))
                .ok_or_else(|| JsonError("number out of range".into()))?;
        }
        if neg {
            if v > i128::MAX as u128 + 1 {
                return err("number out of range");
            }
            Ok(Number::Signed((v as i128).wrapping_neg()))
        } else {
            Ok(Number::Unsigned(v))
        }
    }

    fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let b = self
                .peek()
                .ok_or_else(|| JsonError("unterminated string".into()))?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = self
                        .peek()
                        .ok_or_else(|| JsonError("unterminated escape".into()))?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut c = self.hex4()? as u32;
                            if (0xd800..0xdc00).contains(&c) {
                                self.literal(b"\\u")?;
                                let low = self.hex4()? as u32;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return err("invalid surrogate pair");
                                }
                                c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                            }
                            let ch = char::from_u32(c)
                                .ok_or_else(|| JsonError("invalid \\u escape".into()))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return err("invalid escape"),
                    }
                }
                0..=0x1f => return err("control character in string"),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| JsonError("string is not UTF-8".into()))
    }

    fn hex4(&mut self) -> Result<u16> {
        let s = self
            .input
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| JsonError("short \\u escape".into()))?;
        self.pos += 4;
        let mut v = 0u16;
        for c in s {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return err("invalid \\u escape"),
            };
            v = (v << 4) | d as u16;
        }
        Ok(v)
    }

    fn integer<T: TryFrom<u128> + TryFrom<i128>>(&mut self) -> Result<T> {
        match self.number()? {
            Number::Unsigned(v) => {
                T::try_from(v).map_err(|_| JsonError("number out of range".into()))
            }
            Number::Signed(v) => {
                T::try_from(v).map_err(|_| JsonError("number out of range".into()))
            }
        }
    }
}

macro_rules! int_methods {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let v: $ty = self.integer()?;
            visitor.$visit(v)
        })*
    };
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_token()? {
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'"' => visitor.visit_string(self.string()?),
            b'[' => self.deserialize_seq(visitor),
            b'{' => self.deserialize_map(visitor),
            b'-' | b'0'..=b'9' => match self.number()? {
                Number::Unsigned(v) => match u64::try_from(v) {
                    Ok(v) => visitor.visit_u64(v),
                    Err(_) => visitor.visit_u128(v),
                },
                Number::Signed(v) => match i64::try_from(v) {
                    Ok(v) => visitor.visit_i64(v),
                    Err(_) => visitor.visit_i128(v),
                },
            },
            _ => Err(JsonError(format!(
                "unexpected character at byte {}",
                self.pos
            ))),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_token()? {
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            _ => err("expected a boolean"),
        }
    }

    int_methods! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        err("floating-point numbers are not supported in contracts")
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        err("floating-point numbers are not supported in contracts")
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let s = self.string()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => err("expected a single character"),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_string(self.string()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_string(self.string()?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek_token()? == b'n' {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.peek_token()?;
        self.literal(b"null")?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.expect(b'[')?;
        self.enter()?;
        let v = visitor.visit_seq(Elements {
            de: &mut *self,
            first: true,
        })?;
        self.expect(b']')?;
        self.depth -= 1;
        Ok(v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.expect(b'{')?;
        self.enter()?;
        let v = visitor.visit_map(Entries {
            de: &mut *self,
            first: true,
        })?;
        self.expect(b'}')?;
        self.depth -= 1;
        Ok(v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek_token()? {
            b'"' => visitor.visit_enum(self.string()?.into_deserializer()),
            b'{' => {
                self.pos += 1;
                self.enter()?;
                let v = visitor.visit_enum(Variant { de: &mut *self })?;
                self.expect(b'}')?;
                self.depth -= 1;
                Ok(v)
            }
            _ => err("expected an enum variant"),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }
}

struct Elements<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = JsonError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.de.peek_token()? == b']' {
            return Ok(None);
        }
        if !self.first {
            self.de.expect(b',')?;
        }
        self.first = false;
        seed.deserialize(&mut *self.de).map(Some)
    }
}

struct Entries<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.de.peek_token()? == b'}' {
            return Ok(None);
        }
        if !self.first {
            self.de.expect(b',')?;
        }
        self.first = false;
        if self.de.peek_token()? != b'"' {
            return err("object keys must be strings");
        }
        let key = self.de.string()?;
        seed.deserialize(KeyDeserializer(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.de.expect(b':')?;
        seed.deserialize(&mut *self.de)
    }
}

/// Object keys: strings that may also stand for integers (map keys of integer type).
struct KeyDeserializer(String);

macro_rules! key_ints {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let v: $ty = self.0.parse().map_err(|_| JsonError("expected an integer key".into()))?;
            visitor.$visit(v)
        })*
    };
}

impl<'de> de::Deserializer<'de> for KeyDeserializer {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_string(self.0)
    }

    key_ints! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct Variant<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = JsonError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let key = self.de.string()?;
        let v = seed.deserialize(KeyDeserializer(key))?;
        self.de.expect(b':')?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = JsonError;

    fn unit_variant(self) -> Result<()> {
        de::Deserializer::deserialize_unit(&mut *self.de, de::IgnoredAny).map(|_| ())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}

struct Serializer {
    out: Vec<u8>,
}

impl Serializer {
    fn string(&mut self, s: &str) {
        self.out.push(b'"');
        for c in s.chars() {
            match c {
                '"' => self.out.extend_from_slice(b"\\\""),
                '\\' => self.out.extend_from_slice(b"\\\\"),
                '\n' => self.out.extend_from_slice(b"\\n"),
                '\r' => self.out.extend_from_slice(b"\\r"),
                '\t' => self.out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => self
                    .out
                    .extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
                c => {
                    let mut buf = [0u8; 4];
                    self.out
                        .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        self.out.push(b'"');
    }

    fn display(&mut self, v: impl fmt::Display) {
        self.out.extend_from_slice(format!("{v}").as_bytes());
    }
}

/// Serializer of sequences and maps: writes separators.
struct Compound<'a> {
    ser: &'a mut Serializer,
    first: bool,
    /// Closing bytes (e.g. `]`, `}`, `}}` for variants).
    close: &'static [u8],
}

impl Compound<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.ser.out.push(b',');
        }
        self.first = false;
    }
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = JsonError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.display(v);
        Ok(())
    }
    fn serialize_f32(self, _v: f32) -> Result<()> {
        err("floating-point numbers are not supported in contracts")
    }
    fn serialize_f64(self, _v: f64) -> Result<()> {
        err("floating-point numbers are not supported in contracts")
    }
    fn serialize_char(self, v: char) -> Result<()> {
        let mut buf = [0u8; 4];
        self.string(v.encode_utf8(&mut buf));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            SerializeSeq::serialize_element(&mut seq, b)?;
        }
        SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.out.push(b'{');
        self.string(variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>> {
        self.out.push(b'[');
        Ok(Compound {
            ser: self,
            first: true,
            close: b"]",
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>> {
        self.out.push(b'{');
        self.string(variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound {
            ser: self,
            first: true,
            close: b"]}",
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>> {
        self.out.push(b'{');
        Ok(Compound {
            ser: self,
            first: true,
            close: b"}",
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>> {
        self.out.push(b'{');
        self.string(variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound {
            ser: self,
            first: true,
            close: b"}}",
        })
    }
}

impl SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.sep();
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<()> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<()> {
        SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<()> {
        SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<()> {
        SerializeSeq::end(self)
    }
}

impl SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.sep();
        key.serialize(KeySerializer {
            ser: &mut *self.ser,
        })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.ser.out.push(b':');
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<()> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.sep();
        self.ser.string(key);
        self.ser.out.push(b':');
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<()> {
        SerializeMap::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<()> {
        SerializeMap::end(self)
    }
}

/// Map keys: strings as they are, integers quoted.
struct KeySerializer<'a> {
    ser: &'a mut Serializer,
}

macro_rules! key_int {
    ($($method:ident : $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<()> {
            self.ser.string(&format!("{v}"));
            Ok(())
        })*
    };
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = ();
    type Error = JsonError;
    type SerializeSeq = ser::Impossible<(), JsonError>;
    type SerializeTuple = ser::Impossible<(), JsonError>;
    type SerializeTupleStruct = ser::Impossible<(), JsonError>;
    type SerializeTupleVariant = ser::Impossible<(), JsonError>;
    type SerializeMap = ser::Impossible<(), JsonError>;
    type SerializeStruct = ser::Impossible<(), JsonError>;
    type SerializeStructVariant = ser::Impossible<(), JsonError>;

    key_int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_str(self, v: &str) -> Result<()> {
        self.ser.string(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        let mut buf = [0u8; 4];
        self.ser.string(v.encode_utf8(&mut buf));
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.ser.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_bool(self, _v: bool) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_f32(self, _v: f32) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_f64(self, _v: f64) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_none(self) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_unit(self) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        err("map keys must be strings or integers")
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        err("map keys must be strings or integers")
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        err("map keys must be strings or integers")
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        err("map keys must be strings or integers")
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        err("map keys must be strings or integers")
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        err("map keys must be strings or integers")
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        err("map keys must be strings or integers")
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        err("map keys must be strings or integers")
    }
}

#[cfg(test)]
mod tests {
    use alloc::{collections::BTreeMap, string::ToString, vec};

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Plain,
        Wrapped(u32),
        Pair(u8, u8),
        Named { a: i64 },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        s: String,
        n: u64,
        i: i32,
        big: u128,
        neg: i128,
        b: bool,
        o: Option<String>,
        none: Option<u8>,
        v: Vec<u16>,
        m: BTreeMap<String, u64>,
        im: BTreeMap<u32, bool>,
        k: Vec<Kind>,
        t: (u8, String),
        c: char,
    }

    fn sample() -> Everything {
        let mut m = BTreeMap::new();
        m.insert("x".to_string(), 1);
        let mut im = BTreeMap::new();
        im.insert(7, true);
        Everything {
            s: "héllo \"q\" \\ \n \u{1}".into(),
            n: u64::MAX,
            i: -5,
            big: u128::MAX,
            neg: i128::MIN,
            b: true,
            o: Some("x".into()),
            none: None,
            v: vec![1, 2, 3],
            m,
            im,
            k: vec![
                Kind::Plain,
                Kind::Wrapped(3),
                Kind::Pair(1, 2),
                Kind::Named { a: -1 },
            ],
            t: (9, "t".into()),
            c: '中',
        }
    }

    #[test]
    fn round_trips_everything() {
        let v = sample();
        let bytes = to_vec(&v).unwrap();
        let back: Everything = from_slice(&bytes).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn reads_what_other_json_writes() {
        let text = br#" { "key" : "a\u00e9\ud83d\ude00" , "amount": 12, "extra": {"deep": [1, -2, null, true, "s"]} } "#;
        #[derive(Deserialize)]
        struct Args {
            key: String,
            amount: u64,
        }
        let a: Args = from_slice(text).unwrap();
        assert_eq!(a.key, "aé😀");
        assert_eq!(a.amount, 12);
    }

    #[test]
    fn refuses_floats_and_bad_input() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct N {
            n: u64,
        }
        for bad in [
            &br#"{"n": 1.5}"#[..],
            br#"{"n": 1e3}"#,
            br#"{"n": 01}"#,
            br#"{"n": -1}"#,
            br#"{"n": 1} x"#,
            br#"{"n": "#,
            br#"{"n": 340282366920938463463374607431768211456}"#,
            br#"{n: 1}"#,
            b"",
        ] {
            assert!(
                from_slice::<N>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(from_slice::<Vec<Vec<u8>>>(deep.as_bytes()).is_err());
        assert!(to_vec(&1.5f64).is_err());
    }
}
