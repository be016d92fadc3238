//! Protobuf wire reading on prost's primitives (keys, varints, skipping unknown fields and
//! groups), with upb's rules where they differ from prost's generated code: a known field
//! number with an unexpected wire type is an unknown field (skipped), not an error; proto3
//! strings must be UTF-8; a repeated singular message field merges.

use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};

/// Why the input is not a valid message, as upb says it; the caller names the message.
#[derive(Debug, Clone, Copy)]
pub enum Malformed {
    Wire,
    Utf8,
}

impl Malformed {
    pub fn reason(self) -> &'static str {
        match self {
            Malformed::Wire => "Wire format was corrupt",
            Malformed::Utf8 => "String field had bad UTF-8",
        }
    }
}

impl From<prost::DecodeError> for Malformed {
    fn from(_: prost::DecodeError) -> Self {
        Malformed::Wire
    }
}

pub type Result<T> = std::result::Result<T, Malformed>;

/// Reads the fields of one message: `next` yields (field number, wire type) and the caller
/// reads the value with one of the `read_*` methods or `skip`s it.
pub struct Reader<'a> {
    pub buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    #[inline]
    pub fn next(&mut self) -> Result<Option<(u32, WireType)>> {
        let Some(&first) = self.buf.first() else {
            return Ok(None);
        };
        // One-byte keys (field numbers 1-15) are nearly every key: decoded here; the rest,
        // and every malformed key, by prost.
        if (8..0x80).contains(&first) {
            let wire_type = match first & 7 {
                0 => WireType::Varint,
                1 => WireType::SixtyFourBit,
                2 => WireType::LengthDelimited,
                3 => WireType::StartGroup,
                5 => WireType::ThirtyTwoBit,
                _ => return self.slow_key(), // end-group, or not a wire type
            };
            self.buf = &self.buf[1..];
            return Ok(Some((u32::from(first >> 3), wire_type)));
        }
        self.slow_key()
    }

    #[cold]
    fn slow_key(&mut self) -> Result<Option<(u32, WireType)>> {
        let (tag, wire_type) = decode_key(&mut self.buf)?;
        if wire_type == WireType::EndGroup {
            return Err(Malformed::Wire); // an end-group tag with no group open
        }
        Ok(Some((tag, wire_type)))
    }

    pub fn skip(&mut self, tag: u32, wire_type: WireType) -> Result<()> {
        skip_field(wire_type, tag, &mut self.buf, DecodeContext::default())?;
        Ok(())
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        if len > self.buf.len() as u64 {
            return Err(Malformed::Wire);
        }
        let (value, rest) = self.buf.split_at(len as usize);
        self.buf = rest;
        Ok(value)
    }

    #[inline]
    pub fn string(&mut self) -> Result<&'a [u8]> {
        let value = self.bytes()?;
        utf8(value)?;
        Ok(value)
    }

    /// Lengths and most values fit one or two bytes: decoded here, the rest by prost.
    #[inline]
    pub fn varint(&mut self) -> Result<u64> {
        match *self.buf {
            [b0, ref rest @ ..] if b0 < 0x80 => {
                self.buf = rest;
                Ok(u64::from(b0))
            }
            [b0, b1, ref rest @ ..] if b1 < 0x80 => {
                self.buf = rest;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
            }
            _ => Ok(decode_varint(&mut self.buf)?),
        }
    }

    pub fn fixed64(&mut self) -> Result<u64> {
        if self.buf.len() < 8 {
            return Err(Malformed::Wire);
        }
        Ok(self.buf.get_u64_le())
    }
}

/// Checks that `value` is UTF-8: ASCII (nearly every string in telemetry) word by word, the
/// rest by the standard library.
#[inline]
pub fn utf8(value: &[u8]) -> Result<()> {
    if value.is_ascii() || std::str::from_utf8(value).is_ok() {
        Ok(())
    } else {
        Err(Malformed::Utf8)
    }
}

/// Field `(number, wire type)` patterns for matching in the walks.
pub const LEN: WireType = WireType::LengthDelimited;
pub const VARINT: WireType = WireType::Varint;
pub const FIXED64: WireType = WireType::SixtyFourBit;

/// An `AnyValue`, borrowing its strings and bytes from the request.
pub enum Any<'a> {
    Empty,
    Str(&'a [u8]),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    Array(Vec<Any<'a>>),
    KvList(Vec<(&'a [u8], Any<'a>)>),
    StrIndex, // profiles only; reads as empty
}

/// upb's recursion limit: deeper nesting is a malformed message.
const MAX_DEPTH: u32 = 100;

/// Merges an encoded `AnyValue` into `value` (a oneof: the last field set wins, and an
/// array or kvlist set twice appends).
pub fn merge_any<'a>(value: &mut Any<'a>, buf: &'a [u8], depth: u32) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Malformed::Wire);
    }
    let mut reader = Reader::new(buf);
    while let Some((tag, wire_type)) = reader.next()? {
        match (tag, wire_type) {
            (1, LEN) => *value = Any::Str(reader.string()?),
            (2, VARINT) => *value = Any::Bool(reader.varint()? != 0),
            (3, VARINT) => *value = Any::Int(reader.varint()? as i64),
            (4, FIXED64) => *value = Any::Double(f64::from_bits(reader.fixed64()?)),
            (7, LEN) => *value = Any::Bytes(reader.bytes()?),
            (8, VARINT) => {
                reader.varint()?;
                *value = Any::StrIndex;
            }
            (5, LEN) => {
                let body = reader.bytes()?;
                if !matches!(value, Any::Array(_)) {
                    *value = Any::Array(Vec::new());
                }
                let Any::Array(values) = value else {
                    unreachable!()
                };
                let mut inner = Reader::new(body);
                while let Some((tag, wire_type)) = inner.next()? {
                    if (tag, wire_type) == (1, LEN) {
                        let mut element = Any::Empty;
                        merge_any(&mut element, inner.bytes()?, depth + 2)?;
                        values.push(element);
                    } else {
                        inner.skip(tag, wire_type)?;
                    }
                }
            }
            (6, LEN) => {
                let body = reader.bytes()?;
                if !matches!(value, Any::KvList(_)) {
                    *value = Any::KvList(Vec::new());
                }
                let Any::KvList(entries) = value else {
                    unreachable!()
                };
                let mut inner = Reader::new(body);
                while let Some((tag, wire_type)) = inner.next()? {
                    if (tag, wire_type) == (1, LEN) {
                        entries.push(key_value(inner.bytes()?, depth + 2)?);
                    } else {
                        inner.skip(tag, wire_type)?;
                    }
                }
            }
            _ => reader.skip(tag, wire_type)?,
        }
    }
    Ok(())
}

/// An encoded `KeyValue` as (key, value).
pub fn key_value(buf: &[u8], depth: u32) -> Result<(&[u8], Any<'_>)> {
    if depth > MAX_DEPTH {
        return Err(Malformed::Wire);
    }
    let mut key: &[u8] = b"";
    let mut value = Any::Empty;
    let mut reader = Reader::new(buf);
    while let Some((tag, wire_type)) = reader.next()? {
        match (tag, wire_type) {
            (1, LEN) => key = reader.string()?,
            (2, LEN) => merge_any(&mut value, reader.bytes()?, depth + 1)?,
            _ => reader.skip(tag, wire_type)?,
        }
    }
    Ok((key, value))
}

/// A `KeyValue` of the usual shape, decoded without the general walk: the key, then a value
/// holding one string, bool, int or double, each field once with a one-byte length. None for
/// any other shape, and for bad UTF-8 (the general walk decodes those, or says why not).
#[inline]
pub fn simple_key_value(buf: &[u8]) -> Option<(&[u8], Any<'_>)> {
    let [0x0a, key_len, ref rest @ ..] = *buf else {
        return None;
    };
    let key_len = usize::from(key_len);
    if key_len >= 0x80 || rest.len() < key_len {
        return None;
    }
    let (key, rest) = rest.split_at(key_len);
    let [0x12, value_len, ref value @ ..] = *rest else {
        return None;
    };
    if value_len >= 0x80 || usize::from(value_len) != value.len() {
        return None;
    }
    let whole_varint = |bytes: &[u8]| {
        let mut reader = Reader::new(bytes);
        let number = reader.varint().ok()?;
        reader.buf.is_empty().then_some(number)
    };
    let any = match *value {
        [0x0a, len, ref text @ ..] if usize::from(len) == text.len() && len < 0x80 => {
            utf8(text).ok()?;
            Any::Str(text)
        }
        [0x10, ref number @ ..] => Any::Bool(whole_varint(number)? != 0),
        [0x18, ref number @ ..] => Any::Int(whole_varint(number)? as i64),
        [0x21, ref bits @ ..] => Any::Double(f64::from_le_bytes(bits.try_into().ok()?)),
        _ => return None,
    };
    utf8(key).ok()?;
    Some((key, any))
}
