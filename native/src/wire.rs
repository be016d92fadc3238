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

    pub fn next(&mut self) -> Result<Option<(u32, WireType)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
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

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = decode_varint(&mut self.buf)?;
        if len > self.buf.len() as u64 {
            return Err(Malformed::Wire);
        }
        let (value, rest) = self.buf.split_at(len as usize);
        self.buf = rest;
        Ok(value)
    }

    pub fn string(&mut self) -> Result<&'a [u8]> {
        let value = self.bytes()?;
        std::str::from_utf8(value).map_err(|_| Malformed::Utf8)?;
        Ok(value)
    }

    pub fn varint(&mut self) -> Result<u64> {
        Ok(decode_varint(&mut self.buf)?)
    }

    pub fn fixed64(&mut self) -> Result<u64> {
        if self.buf.len() < 8 {
            return Err(Malformed::Wire);
        }
        Ok(self.buf.get_u64_le())
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
