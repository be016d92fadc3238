//! OTLP/JSON (`ExportTraceServiceRequest`) to span columns: transcoded to the protobuf
//! request it stands for, which `otlp::decode` then decodes. The JSON rules of
//! `codec/otlp/json_in.py` (hex ids, enums by name or number, 64-bit ints as strings or
//! numbers, snake_case spellings, a malformed id rejecting its span) become protobuf values,
//! so the limits, markers, id and time checks are the protobuf decoder's, which its own
//! differential tests hold to the Python decoders.
//!
//! As for Zipkin (`zipkin::Fallback`), whatever is not certain to decode exactly as the
//! reference would (a malformed or oddly spelled body, an unknown field, a number in a string
//! Python's `int` reads more leniently, a value object of several keys) is left to the Python
//! decoder. Every value lands in a typed field (`deny_unknown_fields`; ignored fields are
//! `Checked`), so serde_json checks the escapes and numbers of the whole body.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::json::Str;
use crate::zipkin::Fallback;

type Out<T> = Result<T, Fallback>;

// --- JSON values -------------------------------------------------------------------------

/// Any JSON value, read in full (strings decoded, numbers parsed) and dropped: a field the
/// reference ignores must still be valid for orjson.
struct Checked;

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        // Duplicate keys are fine: orjson keeps the last, and nothing reads them.
        while map.next_key::<Str<'_>>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Checked)
    }
}

/// A 64-bit integer as OTLP/JSON spells it: a number or a string of digits.
enum Number {
    Int(i128),
    /// A double where an integer belongs, or a string Python's `int` reads differently.
    Other,
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number::Int(v.into()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Number, E> {
        Ok(Number::Other)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
        // `-?[0-9]+` only: Python's int() also takes spaces, `+`, `_` and other digits.
        let digits = v.strip_prefix('-').unwrap_or(v);
        if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Number::Other);
        }
        Ok(v.parse::<i128>().map_or(Number::Other, Number::Int))
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

/// An enum (span kind, status code): a number, a numeric string, or a name.
struct Enum<'a>(Either<'a>);

enum Either<'a> {
    Number(Number),
    Name(Cow<'a, str>),
}

struct EnumVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EnumVisitor<'a> {
    type Value = Enum<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an enum value")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Enum<'a>, E> {
        NumberVisitor.visit_i64(v).map(|n| Enum(Either::Number(n)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Enum<'a>, E> {
        NumberVisitor.visit_u64(v).map(|n| Enum(Either::Number(n)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Enum<'a>, E> {
        Ok(Enum(Either::Number(Number::Other)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Enum<'a>, E> {
        Ok(Enum(Either::Name(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Enum<'a>, E> {
        Ok(Enum(Either::Name(Cow::Owned(v.to_owned()))))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Enum<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EnumVisitor(PhantomData))
    }
}

/// `_json_enum`: a name from `names`, else a number (0 when outside 0..=127).
fn enum_value(value: &Option<Enum<'_>>, names: &[(&str, u64)]) -> Out<u64> {
    let number = match value {
        None => return Ok(0),
        Some(Enum(Either::Name(name))) => {
            if let Some((_, v)) = names.iter().find(|(n, _)| n == name) {
                return Ok(*v);
            }
            NumberVisitor
                .visit_str::<serde_json::Error>(name)
                .map_err(|_| Fallback)?
        }
        Some(Enum(Either::Number(number))) => match number {
            Number::Int(v) => Number::Int(*v),
            Number::Other => Number::Other,
        },
    };
    match number {
        Number::Int(v) if (0..=127).contains(&v) => Ok(v as u64),
        Number::Int(_) => Ok(0),
        Number::Other => Err(Fallback),
    }
}

/// `_json_uint64`: absent 0, out of range 0 (the time checks then reject it).
fn time_value(value: &Option<Number>) -> Out<u64> {
    match value {
        None => Ok(0),
        Some(Number::Int(v)) => Ok(u64::try_from(*v).unwrap_or(0)),
        Some(Number::Other) => Err(Fallback),
    }
}

// --- the request's shape -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow, rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Option<Vec<ResourceSpans<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceSpans<'a> {
    #[serde(borrow)]
    resource: Option<Resource<'a>>,
    #[serde(borrow, rename = "scopeSpans", alias = "scope_spans")]
    scope_spans: Option<Vec<ScopeSpans<'a>>>,
    #[serde(rename = "schemaUrl", alias = "schema_url")]
    _schema_url: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resource<'a> {
    #[serde(borrow)]
    attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(rename = "droppedAttributesCount", alias = "dropped_attributes_count")]
    _dropped: Option<Checked>,
    #[serde(rename = "entityRefs", alias = "entity_refs")]
    _entity_refs: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSpans<'a> {
    #[serde(borrow)]
    scope: Option<Scope<'a>>,
    #[serde(borrow)]
    spans: Option<Vec<Span<'a>>>,
    #[serde(rename = "schemaUrl", alias = "schema_url")]
    _schema_url: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scope<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    version: Option<Str<'a>>,
    #[serde(rename = "attributes")]
    _attributes: Option<Checked>,
    #[serde(rename = "droppedAttributesCount", alias = "dropped_attributes_count")]
    _dropped: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Span<'a> {
    #[serde(borrow, rename = "traceId", alias = "trace_id")]
    trace_id: Option<Str<'a>>,
    #[serde(borrow, rename = "spanId", alias = "span_id")]
    span_id: Option<Str<'a>>,
    #[serde(borrow, rename = "parentSpanId", alias = "parent_span_id")]
    parent_span_id: Option<Str<'a>>,
    #[serde(borrow, rename = "traceState", alias = "trace_state")]
    trace_state: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    kind: Option<Enum<'a>>,
    #[serde(rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    start: Option<Number>,
    #[serde(rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    end: Option<Number>,
    #[serde(borrow)]
    attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(rename = "droppedAttributesCount", alias = "dropped_attributes_count")]
    _dropped_attributes: Option<Checked>,
    #[serde(borrow)]
    events: Option<Vec<Event<'a>>>,
    #[serde(rename = "droppedEventsCount", alias = "dropped_events_count")]
    _dropped_events: Option<Checked>,
    #[serde(borrow)]
    links: Option<Vec<Link<'a>>>,
    #[serde(rename = "droppedLinksCount", alias = "dropped_links_count")]
    _dropped_links: Option<Checked>,
    #[serde(borrow)]
    status: Option<Status<'a>>,
    #[serde(rename = "flags")]
    _flags: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Status<'a> {
    #[serde(borrow)]
    code: Option<Enum<'a>>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event<'a> {
    #[serde(rename = "timeUnixNano", alias = "time_unix_nano")]
    time: Option<Number>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(rename = "droppedAttributesCount", alias = "dropped_attributes_count")]
    _dropped: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Link<'a> {
    #[serde(borrow, rename = "traceId", alias = "trace_id")]
    trace_id: Option<Str<'a>>,
    #[serde(borrow, rename = "spanId", alias = "span_id")]
    span_id: Option<Str<'a>>,
    #[serde(borrow, rename = "traceState", alias = "trace_state")]
    trace_state: Option<Str<'a>>,
    #[serde(borrow)]
    attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(rename = "droppedAttributesCount", alias = "dropped_attributes_count")]
    _dropped: Option<Checked>,
    #[serde(rename = "flags")]
    _flags: Option<Checked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyValue<'a> {
    #[serde(borrow)]
    key: Option<Str<'a>>,
    #[serde(borrow)]
    value: Option<AnyValue<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Values<T> {
    values: Option<Vec<T>>,
}

/// An `AnyValue` object of one known field (`{}`: the empty value).
enum AnyValue<'a> {
    Empty,
    Str(Cow<'a, str>),
    Bool(bool),
    Int(Number),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AnyValue<'a>>),
    KvList(Vec<KeyValue<'a>>),
}

struct AnyValueVisitor<'a>(PhantomData<&'a ()>);

/// A double as `_json_double` takes it: a JSON number or NaN / Infinity / -Infinity.
struct Double(f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Double;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Double, E> {
                if v == 0.0 && v.is_sign_negative() {
                    // `-0` is the int 0 for orjson (0.0), `-0.0` a double: left to Python.
                    return Err(de::Error::custom("negative zero"));
                }
                Ok(Double(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Double, E> {
                // protobuf's JSON words; other numeric text Python's float() reads loosely
                match v {
                    "NaN" => Ok(Double(f64::NAN)),
                    "Infinity" => Ok(Double(f64::INFINITY)),
                    "-Infinity" => Ok(Double(f64::NEG_INFINITY)),
                    _ => Err(de::Error::custom("a double as text")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for AnyValueVisitor<'a> {
    type Value = AnyValue<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AnyValue object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue<'a>, A::Error> {
        let Some(Str(name)) = map.next_key::<Str<'a>>()? else {
            return Ok(AnyValue::Empty);
        };
        let value = match name.as_ref() {
            "stringValue" | "string_value" => AnyValue::Str(map.next_value::<Str<'a>>()?.0),
            "boolValue" | "bool_value" => AnyValue::Bool(map.next_value()?),
            "intValue" | "int_value" => AnyValue::Int(map.next_value()?),
            "doubleValue" | "double_value" => AnyValue::Double(map.next_value::<Double>()?.0),
            "bytesValue" | "bytes_value" => {
                let Str(text) = map.next_value::<Str<'a>>()?;
                // Strict standard base64 only; Python also takes URL-safe and loose padding.
                let data = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|_| de::Error::custom("bytesValue"))?;
                AnyValue::Bytes(data)
            }
            "arrayValue" | "array_value" => {
                let values: Values<AnyValue<'a>> = map.next_value()?;
                AnyValue::Array(values.values.unwrap_or_default())
            }
            "kvlistValue" | "kvlist_value" => {
                let values: Values<KeyValue<'a>> = map.next_value()?;
                AnyValue::KvList(values.values.unwrap_or_default())
            }
            _ => return Err(de::Error::custom("an unknown value field")),
        };
        if map.next_key::<Str<'a>>()?.is_some() {
            return Err(de::Error::custom("several value fields")); // Python takes the first
        }
        Ok(value)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AnyValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AnyValueVisitor(PhantomData))
    }
}

// --- protobuf writing ----------------------------------------------------------------------

const LEN: u8 = 2;
const VARINT: u8 = 0;
const FIXED64: u8 = 1;

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    fn key(&mut self, field: u8, wire_type: u8) {
        self.out.push((field << 3) | wire_type);
    }

    fn bytes(&mut self, field: u8, value: &[u8]) {
        self.key(field, LEN);
        self.varint(value.len() as u64);
        self.out.extend_from_slice(value);
    }

    fn uint(&mut self, field: u8, value: u64) {
        self.key(field, VARINT);
        self.varint(value);
    }

    fn fixed64(&mut self, field: u8, value: u64) {
        self.key(field, FIXED64);
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// Opens a sub-message; `close` writes its length.
    fn open(&mut self, field: u8) -> usize {
        self.key(field, LEN);
        self.out.push(0);
        self.out.len()
    }

    fn close(&mut self, start: usize) {
        let len = self.out.len() - start;
        if len < 0x80 {
            self.out[start - 1] = len as u8;
            return;
        }
        let mut prefix = Vec::with_capacity(5);
        let mut value = len as u64;
        while value >= 0x80 {
            prefix.push((value as u8) | 0x80);
            value >>= 7;
        }
        prefix.push(value as u8);
        // The length took one byte; make room for the rest and move the body along.
        self.out
            .splice(start - 1..start, prefix.iter().copied())
            .for_each(drop);
    }
}

/// `_json_id`: hex text as bytes; anything malformed is no id (rejected with its reason).
fn id_bytes(text: &str) -> Out<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.iter().any(|b| b.is_ascii_whitespace() || *b == 0x0b) {
        return Err(Fallback); // bytes.fromhex skips whitespace between digit pairs
    }
    if !bytes.len().is_multiple_of(2) || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Ok(Vec::new());
    }
    let digit = |b: u8| (b as char).to_digit(16).expect("hex") as u8;
    Ok(bytes
        .chunks_exact(2)
        .map(|pair| (digit(pair[0]) << 4) | digit(pair[1]))
        .collect())
}

fn int_value(number: &Number) -> Out<i64> {
    match number {
        Number::Int(v) => i64::try_from(*v).map_err(|_| Fallback), // out of range: BadInput
        Number::Other => Err(Fallback),
    }
}

fn write_any(w: &mut Writer, value: &AnyValue<'_>) -> Out<()> {
    match value {
        AnyValue::Empty => {}
        AnyValue::Str(text) => w.bytes(1, text.as_bytes()),
        AnyValue::Bool(flag) => w.uint(2, u64::from(*flag)),
        AnyValue::Int(number) => w.uint(3, int_value(number)? as u64),
        AnyValue::Double(number) => w.fixed64(4, number.to_bits()),
        AnyValue::Bytes(data) => w.bytes(7, data),
        AnyValue::Array(values) => {
            let array = w.open(5);
            for element in values {
                let at = w.open(1);
                write_any(w, element)?;
                w.close(at);
            }
            w.close(array);
        }
        AnyValue::KvList(entries) => {
            let list = w.open(6);
            for entry in entries {
                write_key_value(w, 1, entry)?;
            }
            w.close(list);
        }
    }
    Ok(())
}

fn write_key_value(w: &mut Writer, field: u8, kv: &KeyValue<'_>) -> Out<()> {
    let at = w.open(field);
    w.bytes(1, kv.key.as_ref().map_or("", |k| &k.0).as_bytes());
    if let Some(value) = &kv.value {
        let inner = w.open(2);
        write_any(w, value)?;
        w.close(inner);
    }
    w.close(at);
    Ok(())
}

fn write_attributes(w: &mut Writer, field: u8, attributes: &Option<Vec<KeyValue<'_>>>) -> Out<()> {
    for kv in attributes.iter().flatten() {
        write_key_value(w, field, kv)?;
    }
    Ok(())
}

fn text<'s>(value: &'s Option<Str<'_>>) -> &'s str {
    value.as_ref().map_or("", |s| &s.0)
}

const KIND_NAMES: &[(&str, u64)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
];
const STATUS_NAMES: &[(&str, u64)] = &[
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

fn write_span(w: &mut Writer, span: &Span<'_>, limits: &crate::columns::Limits) -> Out<()> {
    let at = w.open(2);
    w.bytes(1, &id_bytes(text(&span.trace_id))?);
    w.bytes(2, &id_bytes(text(&span.span_id))?);
    w.bytes(3, text(&span.trace_state).as_bytes());
    let parent = text(&span.parent_span_id);
    if !parent.is_empty() {
        w.bytes(4, &id_bytes(parent)?);
    }
    w.bytes(5, text(&span.name).as_bytes());
    w.uint(6, enum_value(&span.kind, KIND_NAMES)?);
    w.fixed64(7, time_value(&span.start)?);
    w.fixed64(8, time_value(&span.end)?);
    write_attributes(w, 9, &span.attributes)?;
    // Only the events and links within the limits are read by the reference (it does not
    // look at the others); the rest only count.
    let events = span.events.as_deref().unwrap_or_default();
    for (i, event) in events.iter().enumerate() {
        let e = w.open(11);
        if i < limits.max_events {
            w.fixed64(1, time_value(&event.time)?);
            w.bytes(2, text(&event.name).as_bytes());
            write_attributes(w, 3, &event.attributes)?;
        }
        w.close(e);
    }
    let links = span.links.as_deref().unwrap_or_default();
    for (i, link) in links.iter().enumerate() {
        let l = w.open(13);
        if i < limits.max_links {
            w.bytes(1, &id_bytes(text(&link.trace_id))?);
            w.bytes(2, &id_bytes(text(&link.span_id))?);
            w.bytes(3, text(&link.trace_state).as_bytes());
            write_attributes(w, 4, &link.attributes)?;
        }
        w.close(l);
    }
    if let Some(status) = &span.status {
        let s = w.open(15);
        w.bytes(2, text(&status.message).as_bytes());
        w.uint(3, enum_value(&status.code, STATUS_NAMES)?);
        w.close(s);
    }
    w.close(at);
    Ok(())
}

/// The OTLP/JSON body as a serialized `ExportTraceServiceRequest`.
pub fn to_proto(body: &[u8], limits: &crate::columns::Limits) -> Out<Vec<u8>> {
    let json = std::str::from_utf8(body).map_err(|_| Fallback)?;
    let request: Request<'_> = serde_json::from_str(json).map_err(|_| Fallback)?;
    let mut w = Writer {
        out: Vec::with_capacity(body.len()),
    };
    for resource_spans in request.resource_spans.iter().flatten() {
        let rs = w.open(1);
        if let Some(resource) = &resource_spans.resource {
            let r = w.open(1);
            write_attributes(&mut w, 1, &resource.attributes)?;
            w.close(r);
        }
        for scope_spans in resource_spans.scope_spans.iter().flatten() {
            let ss = w.open(2);
            if let Some(scope) = &scope_spans.scope {
                let s = w.open(1);
                w.bytes(1, text(&scope.name).as_bytes());
                w.bytes(2, text(&scope.version).as_bytes());
                w.close(s);
            }
            for span in scope_spans.spans.iter().flatten() {
                write_span(&mut w, span, limits)?;
            }
            w.close(ss);
        }
        w.close(rs);
    }
    Ok(w.out)
}
