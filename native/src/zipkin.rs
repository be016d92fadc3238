//! Zipkin v2 JSON (`POST /api/v2/spans`) to span columns, by the rules of `codec/zipkin.py`.
//!
//! The Python decoder is the reference, and this one covers the requests real tracers send:
//! whatever it does not decode exactly as the reference would (a rejected span, a malformed
//! body, an unknown field, a link tag, a structured tag, an address Rust cannot parse, a
//! string whose case mapping or stripping Python does differently) is a `Fallback`, and the
//! caller hands the body to the Python decoder, which then gives its batch or its error. So a
//! body decodes here only into the reference's exact batch, and anything else costs only speed.
//!
//! Every value in the body lands in a typed field (`deny_unknown_fields`): serde_json checks
//! escapes and number ranges only for values it decodes, so nothing is skipped unchecked.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::batch::{end_attr_row, push_attr, Batch};
use crate::columns::{
    AttrCol, Limits, DROPPED_ATTRIBUTES_KEY, DROPPED_EVENTS_KEY, DROPPED_LINKS_KEY, TRUNCATED_KEY,
};
use crate::json::Str;
use crate::text::push_py_float;

/// Not decoded here: the Python decoder decides.
#[derive(Debug)]
pub struct Fallback;

type Out<T> = Result<T, Fallback>;

const MAX_TIME_US: i64 = i64::MAX / 1000; // larger µs values overflow int64 nanoseconds
const UNKNOWN_SERVICE: &str = "unknown_service";
/// More tags than this in one span: the reference's dict handles them; a linear search
/// here would be quadratic.
const MAX_TAGS: usize = 1024;

/// Tags the translator moves to the resource (`zipkin._RESOURCE_KEYS`; a test keeps the two
/// equal).
#[rustfmt::skip]
pub const RESOURCE_KEYS: &[&str] = &[
    "cloud.provider", "cloud.account.id", "cloud.region", "cloud.availability_zone",
    "cloud.platform", "aws.ecs.container.arn", "aws.ecs.cluster.arn",
    "aws.ecs.launchtype", "aws.ecs.task.arn", "aws.ecs.task.family",
    "aws.ecs.task.revision", "aws.eks.cluster.arn", "aws.log.group.names",
    "aws.log.group.arns", "aws.log.stream.names", "aws.log.stream.arns",
    "container.name", "container.id", "container.runtime", "container.image.name",
    "container.image.tag", "deployment.environment", "device.id",
    "device.model.identifier", "device.model.name", "faas.name", "faas.id",
    "faas.version", "faas.instance", "faas.max_memory", "host.id", "host.name",
    "host.type", "host.arch", "host.image.name", "host.image.id", "host.image.version",
    "k8s.cluster.name", "k8s.node.name", "k8s.node.uid", "k8s.namespace.name",
    "k8s.pod.uid", "k8s.pod.name", "k8s.container.name", "k8s.replicaset.uid",
    "k8s.replicaset.name", "k8s.deployment.uid", "k8s.deployment.name",
    "k8s.statefulset.uid", "k8s.statefulset.name", "k8s.daemonset.uid",
    "k8s.daemonset.name", "k8s.job.uid", "k8s.job.name", "k8s.cronjob.uid",
    "k8s.cronjob.name", "os.type", "os.description", "os.name", "os.version",
    "process.pid", "process.executable.name", "process.executable.path",
    "process.command", "process.command_line", "process.command_args", "process.owner",
    "process.runtime.name", "process.runtime.version", "process.runtime.description",
    "service.name", "service.namespace", "service.instance.id", "service.version",
    "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version",
    "telemetry.auto.version", "webengine.name", "webengine.version",
    "webengine.description", "opencensus.starttime", "opencensus.exporterversion",
    "opencensus.resourcetype",
];

fn resource_keys() -> &'static HashSet<&'static str> {
    static KEYS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| RESOURCE_KEYS.iter().copied().collect())
}

// --- the JSON shapes ---------------------------------------------------------------------

/// A JSON scalar (arrays and objects are not decoded here).
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    Null,
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON scalar")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'a>, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => Scalar::Int(v),
            Err(_) => Scalar::Unsigned(v),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Null)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

/// A JSON object of scalars as a Python dict reads it: a repeated key keeps its first
/// position and takes its last value.
struct Object<'a>(Vec<(Cow<'a, str>, Scalar<'a>)>);

struct ObjectVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'a> {
    type Value = Object<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of scalars")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'a>, A::Error> {
        let mut entries: Vec<(Cow<'a, str>, Scalar<'a>)> = Vec::new();
        while let Some(Str(key)) = map.next_key::<Str<'a>>()? {
            let value: Scalar<'a> = map.next_value()?;
            if let Some(entry) = entries.iter_mut().find(|(k, _)| *k == key) {
                entry.1 = value;
            } else if entries.len() < MAX_TAGS {
                entries.push((key, value));
            } else {
                return Err(de::Error::custom("too many keys"));
            }
        }
        Ok(Object(entries))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoint<'a> {
    #[serde(borrow, rename = "serviceName")]
    service_name: Option<Str<'a>>,
    #[serde(borrow)]
    ipv4: Option<Str<'a>>,
    #[serde(borrow)]
    ipv6: Option<Str<'a>>,
    port: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Annotation<'a> {
    timestamp: Option<i64>,
    #[serde(borrow)]
    value: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Span<'a> {
    #[serde(borrow, rename = "traceId")]
    trace_id: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow, rename = "parentId")]
    parent_id: Option<Str<'a>>,
    #[serde(borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    timestamp: Option<i64>,
    duration: Option<i64>,
    #[serde(borrow, rename = "localEndpoint")]
    local_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow, rename = "remoteEndpoint")]
    remote_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow)]
    annotations: Option<Vec<Annotation<'a>>>,
    #[serde(borrow)]
    tags: Option<Object<'a>>,
    debug: Option<bool>,
    shared: Option<bool>,
}

// --- Python's string rules ---------------------------------------------------------------

/// Python's `str.isspace` for ASCII.
fn py_space(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f
    )
}

/// `text.strip()` (`strip`) then `upper()` or `lower()`, when the result can be told here:
/// `Ok(None)` for a text that keeps a non-ASCII character (so equals no ASCII keyword), a
/// `Fallback` where Python's Unicode stripping or case mapping could make it ASCII.
fn py_fold(text: &str, strip: bool, upper: bool) -> Out<Option<String>> {
    if !text.is_ascii() {
        let risky = text.chars().any(|c| {
            !c.is_ascii()
                && (c.is_whitespace()
                    || c.to_uppercase().any(|u| u.is_ascii())
                    || c.to_lowercase().any(|l| l.is_ascii()))
        });
        return if risky { Err(Fallback) } else { Ok(None) };
    }
    let bytes = text.as_bytes();
    let (mut start, mut end) = (0, bytes.len());
    if strip {
        while start < end && py_space(bytes[start]) {
            start += 1;
        }
        while end > start && py_space(bytes[end - 1]) {
            end -= 1;
        }
    }
    let core = &text[start..end];
    Ok(Some(if upper {
        core.to_ascii_uppercase()
    } else {
        core.to_ascii_lowercase()
    }))
}

fn chars(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// The first `max_chars` characters of `text`.
fn cut(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

// --- ids ---------------------------------------------------------------------------------

/// A hex id left-padded to `width` lowercase digits (Zipkin's `normalizeTraceId`); a
/// `Fallback` for anything the reference rejects.
fn hex_id(text: &str, width: usize, out: &mut Vec<u8>) -> Out<()> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > width || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err(Fallback);
    }
    if bytes.iter().all(|b| *b == b'0') {
        return Err(Fallback);
    }
    out.extend(std::iter::repeat_n(b'0', width - bytes.len()));
    out.extend(bytes.iter().map(u8::to_ascii_lowercase));
    Ok(())
}

// --- tags ----------------------------------------------------------------------------------

type Tags<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Attributes as (key, value text, type code), per `model.encode_value`.
type Attrs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>, u8)>;

/// 2**63 as a double: integral doubles in [-2**63, 2**63) are int64s.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

fn tag_text<'a>(value: Scalar<'a>) -> Out<Option<Cow<'a, str>>> {
    Ok(Some(match value {
        Scalar::Text(text) => text,
        Scalar::Bool(flag) => Cow::Borrowed(if flag { "true" } else { "false" }),
        Scalar::Int(number) => Cow::Owned(number.to_string()),
        Scalar::Unsigned(number) => Cow::Owned(number.to_string()),
        Scalar::Float(number) => {
            // Its repr (orjson, too, reads integer literals past 64 bits as doubles); `-0`
            // is a double here and the int 0 for orjson.
            if number == 0.0 {
                return Err(Fallback);
            }
            let mut text = Vec::new();
            push_py_float(&mut text, number);
            Cow::Owned(String::from_utf8(text).expect("ASCII digits"))
        }
        Scalar::Null => return Ok(None),
    }))
}

fn position(tags: &Tags<'_>, key: &str) -> Option<usize> {
    tags.iter().position(|(k, _)| k == key)
}

fn pop<'a>(tags: &mut Tags<'a>, key: &str) -> Option<Cow<'a, str>> {
    position(tags, key).map(|i| tags.remove(i).1)
}

fn get<'t>(tags: &'t Tags<'_>, key: &str) -> Option<&'t str> {
    position(tags, key).map(|i| tags[i].1.as_ref())
}

/// `SpanKind.parse` of a `span.kind` tag, or None.
fn kind_from_tag(text: &str) -> Out<Option<i8>> {
    let Some(folded) = py_fold(text, true, true)? else {
        return Ok(None);
    };
    let cleaned = folded.strip_prefix("SPAN_KIND_").unwrap_or(&folded);
    if !cleaned.is_empty() && cleaned.bytes().all(|b| b.is_ascii_digit()) {
        let digits = cleaned.trim_start_matches('0');
        return Ok(match digits {
            "" => Some(0),
            "1" | "2" | "3" | "4" | "5" => Some(digits.as_bytes()[0] as i8 - b'0' as i8),
            _ => None,
        });
    }
    Ok(match cleaned {
        "UNSPECIFIED" => Some(0),
        "INTERNAL" => Some(1),
        "SERVER" => Some(2),
        "CLIENT" => Some(3),
        "PRODUCER" => Some(4),
        "CONSUMER" => Some(5),
        _ => None,
    })
}

/// `_status_from_tags`: (code, message), consuming the tags it reads.
fn status_from_tags<'a>(tags: &mut Tags<'a>) -> Out<(i8, Cow<'a, str>)> {
    let (mut status, mut message) = (0i8, Cow::Borrowed(""));
    if let Some(code) = get(tags, "otel.status_code") {
        let parsed = match py_fold(code, true, true)? {
            Some(folded) => match folded.strip_prefix("STATUS_CODE_").unwrap_or(&folded) {
                "UNSET" => Some(0),
                "OK" => Some(1),
                "ERROR" => Some(2),
                _ => None,
            },
            None => None,
        };
        if let Some(parsed) = parsed {
            status = parsed;
            pop(tags, "otel.status_code");
            message = pop(tags, "otel.status_description").unwrap_or_default();
        }
    }
    if let Some(i) = position(tags, "error") {
        let folded = py_fold(&tags[i].1, true, false)?;
        if folded.as_deref() != Some("false") {
            let error = tags.remove(i).1;
            status = 2;
            if message.is_empty() {
                message = pop(tags, "otel.status_description").unwrap_or_default();
            }
            if message.is_empty() && !matches!(folded.as_deref(), Some("" | "true")) {
                message = error;
            }
        }
    }
    Ok((status, message))
}

/// The first non-empty of the tags at `keys`, all of them consumed.
fn pop_first<'a>(tags: &mut Tags<'a>, keys: [&str; 2]) -> Cow<'a, str> {
    let first = pop(tags, keys[0]).unwrap_or_default();
    let second = pop(tags, keys[1]).unwrap_or_default();
    if first.is_empty() {
        second
    } else {
        first
    }
}

// --- links --------------------------------------------------------------------------------

struct Link<'a> {
    trace_id: String,
    span_id: String,
    state: String,
    attrs: Attrs<'a>,
}

/// `model.normalize_trace_id` (16 or 32 hex) / `normalize_span_id` (16 hex), lowercase and
/// 32 / 16 digits; None for anything else.
fn normalized_id(text: &str, trace: bool) -> Option<String> {
    let fits = if trace {
        text.len() == 16 || text.len() == 32
    } else {
        text.len() == 16
    };
    if !fits || !text.bytes().all(|b| b.is_ascii_hexdigit()) || text.bytes().all(|b| b == b'0') {
        return None;
    }
    let width = if trace { 32 } else { 16 };
    let mut id = "0".repeat(width - text.len());
    id.push_str(&text.to_ascii_lowercase());
    Some(id)
}

/// `_links_from_tags`: the translator's `otlp.link.N` tags (`trace|span|state|{json}|dropped`)
/// from 0 up to the first missing; one that does not parse stays a plain tag.
fn links_from_tags(tags: &mut Tags<'_>) -> Out<Vec<Link<'static>>> {
    let mut links = Vec::new();
    for index in 0..128 {
        let key = format!("otlp.link.{index}");
        let Some(at) = position(tags, &key) else {
            break;
        };
        if let Some(link) = parse_link(&tags[at].1)? {
            tags.remove(at);
            links.push(link);
        }
    }
    Ok(links)
}

fn parse_link(value: &str) -> Out<Option<Link<'static>>> {
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() < 5 {
        return Ok(None);
    }
    let last = parts[parts.len() - 1];
    if !last.is_ascii() {
        return Err(Fallback); // Python's isdigit takes other scripts' digits too
    }
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let (Some(trace_id), Some(span_id)) = (
        normalized_id(parts[0], true),
        normalized_id(parts[1], false),
    ) else {
        return Ok(None);
    };
    let start = parts[0].len() + parts[1].len() + parts[2].len() + 3;
    let json = &value[start..value.len() - last.len() - 1];
    let Some(attrs) = json_object(json)? else {
        return Ok(None);
    };
    let attrs = attrs
        .into_iter()
        .map(|(k, v, code)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned()), code))
        .collect();
    Ok(Some(Link {
        trace_id,
        span_id,
        state: parts[2].to_owned(),
        attrs,
    }))
}

// --- endpoints -----------------------------------------------------------------------------

struct Place<'a> {
    service: Cow<'a, str>,
    ip: String,
    port: i64,
}

/// Python's `ipaddress` text of an address (IPv4-mapped IPv6 as IPv4); "" for none.
fn ip_text(text: &str) -> Out<String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Ok(v4.to_string()),
        Ok(IpAddr::V6(v6)) => Ok(match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        }),
        // Python accepts a few forms Rust does not (zone ids): let it decide.
        Err(_) => Err(Fallback),
    }
}

fn place(endpoint: Endpoint<'_>) -> Out<Place<'_>> {
    let mut ip = String::new();
    for text in [&endpoint.ipv4, &endpoint.ipv6].into_iter().flatten() {
        if ip.is_empty() {
            ip = ip_text(&text.0)?;
        }
    }
    Ok(Place {
        service: endpoint.service_name.map_or(Cow::Borrowed(""), |s| s.0),
        ip,
        port: endpoint
            .port
            .filter(|p| (1..65536).contains(p))
            .unwrap_or(0),
    })
}

// --- annotations ---------------------------------------------------------------------------

/// An annotation's event name and attributes (`_parse_annotation`).
fn parse_annotation(value: &str) -> Out<(&str, Attrs<'_>)> {
    if value.starts_with('{') && value.ends_with('}') {
        if let Some((name, attrs)) = spec_annotation(value)? {
            return Ok((name, attrs));
        }
    }
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() >= 3 {
        let last = parts[parts.len() - 1];
        if !last.is_ascii() {
            return Err(Fallback); // Python's isdigit takes other scripts' digits too
        }
        if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
            let start = parts[0].len() + 1;
            let json = &value[start..value.len() - last.len() - 1];
            if let Some(attrs) = json_object(json)? {
                return Ok((parts[0], attrs));
            }
        }
    }
    Ok((value, Vec::new()))
}

/// `{"name": {attributes}}`, or None when the text is not exactly that.
fn spec_annotation(text: &str) -> Out<Option<(&str, Attrs<'_>)>> {
    /// The single entry of the outer object, if it has exactly one key (last value wins).
    struct Outer<'a>(Option<(Cow<'a, str>, Option<Object<'a>>)>, usize);
    struct OuterVisitor;
    /// A value that is an object of scalars, or any scalar (None).
    struct Inner<'a>(Option<Object<'a>>);
    struct InnerVisitor;
    impl<'de> Visitor<'de> for InnerVisitor {
        type Value = Inner<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object or a scalar")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Inner<'de>, A::Error> {
            ObjectVisitor(PhantomData)
                .visit_map(map)
                .map(|o| Inner(Some(o)))
        }
        fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Inner<'de>, E> {
            Ok(Inner(None))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Inner<'de>, E> {
            Ok(Inner(None))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Inner<'de>, E> {
            Ok(Inner(None))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Inner<'de>, E> {
            Ok(Inner(None))
        }
        // Numbers are not accepted: a huge integer literal could be a float here and an
        // int (or an error) for orjson. Arrays neither: they would be skipped unchecked.
    }
    impl<'de> Deserialize<'de> for Inner<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(InnerVisitor)
        }
    }
    impl<'de> Visitor<'de> for OuterVisitor {
        type Value = Outer<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outer<'de>, A::Error> {
            let mut entry: Option<(Cow<'de, str>, Option<Object<'de>>)> = None;
            let mut keys = 0;
            while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                let Inner(value) = map.next_value()?;
                match &mut entry {
                    Some((k, v)) if *k == key => *v = value,
                    Some(_) => keys += 1,
                    None => {
                        entry = Some((key, value));
                        keys = 1;
                    }
                }
            }
            Ok(Outer(entry, keys))
        }
    }
    impl<'de> Deserialize<'de> for Outer<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(OuterVisitor)
        }
    }
    let outer: Outer<'_> = serde_json::from_str(text).map_err(|_| Fallback)?;
    if outer.1 != 1 {
        return Ok(None); // none, or two distinct keys: not the spec's form
    }
    match outer.0 {
        Some((Cow::Borrowed(name), Some(object))) => Ok(Some((name, json_attrs(object)?))),
        Some((_, None)) => Ok(None),
        Some((Cow::Owned(_), Some(_))) => Err(Fallback), // an escaped name: rare
        None => Ok(None),
    }
}

/// The text as a JSON object of scalars; None when it cannot be an object at all.
fn json_object(text: &str) -> Out<Option<Attrs<'_>>> {
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return Ok(None); // orjson gives no dict for it, or fails: a plain name either way
    }
    let object: Object<'_> = serde_json::from_str(text).map_err(|_| Fallback)?;
    json_attrs(object).map(Some)
}

/// `_json_attrs`: typed attributes of a JSON object (nulls skipped).
fn json_attrs(object: Object<'_>) -> Out<Attrs<'_>> {
    let mut attrs = Vec::with_capacity(object.0.len());
    for (key, value) in object.0 {
        let (text, code) = match value {
            Scalar::Text(text) => (text, b's'),
            Scalar::Bool(flag) => (Cow::Borrowed(if flag { "true" } else { "false" }), b'b'),
            Scalar::Int(number) => (Cow::Owned(number.to_string()), b'i'),
            Scalar::Unsigned(number) => (Cow::Owned(number.to_string()), b's'),
            Scalar::Float(number) => {
                // (orjson, too, reads integer literals past 64 bits as doubles)
                if number.fract() == 0.0 && (-TWO_63..TWO_63).contains(&number) {
                    (Cow::Owned((number as i64).to_string()), b'i')
                } else {
                    let mut text = Vec::new();
                    push_py_float(&mut text, number);
                    (Cow::Owned(String::from_utf8(text).expect("ASCII")), b'd')
                }
            }
            Scalar::Null => continue,
        };
        attrs.push((key, text, code));
    }
    Ok(attrs)
}

// --- the request ---------------------------------------------------------------------------

/// `_Columns._cap`: appends `attrs` to the open row of `column` within the limits, counting
/// cut values in `counts[0]` and dropped attributes in `counts[1]`.
fn cap<K: AsRef<str>, T: AsRef<str>>(
    column: &mut AttrCol,
    attrs: &[(K, T, u8)],
    limits: &Limits,
    counts: &mut [u64; 2],
) {
    let kept = attrs.len().min(limits.max_attributes);
    counts[1] += (attrs.len() - kept) as u64;
    for (key, text, code) in &attrs[..kept] {
        let text = text.as_ref();
        if text.len() > limits.max_value_length && chars(text) > limits.max_value_length {
            counts[0] += 1;
            let short = cut(text, limits.max_value_length);
            push_attr(column, key.as_ref().as_bytes(), short.as_bytes(), b's');
        } else {
            push_attr(column, key.as_ref().as_bytes(), text.as_bytes(), *code);
        }
    }
}

/// A Zipkin v2 JSON body as span columns; None for an empty list.
pub fn decode_json(body: &[u8], limits: Limits) -> Out<Option<Batch>> {
    let text = std::str::from_utf8(body).map_err(|_| Fallback)?;
    let spans: Vec<Span<'_>> = serde_json::from_str(text).map_err(|_| Fallback)?;
    if spans.len() > limits.max_spans {
        return Err(Fallback);
    }
    if spans.is_empty() {
        return Ok(None);
    }
    let mut batch = Batch::new(spans.len(), body.len());
    for span in spans {
        append(&mut batch, span, &limits)?;
    }
    Ok(Some(batch))
}

fn required<'s, 'a>(value: &'s Option<Str<'a>>) -> Out<&'s str> {
    match value {
        Some(Str(text)) if !text.is_empty() => Ok(text),
        _ => Err(Fallback),
    }
}

fn check_time(value: i64) -> Out<i64> {
    if (0..=MAX_TIME_US).contains(&value) {
        Ok(value)
    } else {
        Err(Fallback)
    }
}

fn append(batch: &mut Batch, span: Span<'_>, limits: &Limits) -> Out<()> {
    let trace_id = required(&span.trace_id)?;
    let span_id = required(&span.id)?;
    hex_id(trace_id, 32, &mut batch.trace_ids.data)?;
    let id_start = batch.span_ids.data.len();
    hex_id(span_id, 16, &mut batch.span_ids.data)?;
    // Parent: absent or all zeros is a root, as is the span's own id.
    let parent = span.parent_id.as_ref().map_or("", |p| p.0.as_ref());
    if !parent.is_empty() && !parent.bytes().all(|b| b == b'0') {
        let start = batch.parent_ids.data.len();
        hex_id(parent, 16, &mut batch.parent_ids.data)?;
        if batch.parent_ids.data[start..] == batch.span_ids.data[id_start..] {
            batch.parent_ids.data.truncate(start);
        }
    }
    let timestamp = check_time(span.timestamp.unwrap_or(0))?;
    let duration = check_time(span.duration.unwrap_or(0))?;
    let annotations = span.annotations.unwrap_or_default();
    let mut events = Vec::with_capacity(annotations.len());
    for annotation in &annotations {
        let (Some(time), Some(Str(value))) = (annotation.timestamp, &annotation.value) else {
            return Err(Fallback);
        };
        events.push((check_time(time)?, value.as_ref()));
    }
    if (timestamp as i128) * 1000 + (duration as i128) * 1000 > i64::MAX as i128 {
        return Err(Fallback);
    }

    let mut tags: Tags<'_> = Vec::new();
    for (key, value) in span.tags.map_or_else(Vec::new, |t| t.0) {
        if let Some(text) = tag_text(value)? {
            tags.push((key, text));
        }
    }
    let trace_state = pop(&mut tags, "w3c.tracestate").unwrap_or_default();
    let kind_text = span.kind.as_ref().map_or("", |k| k.0.as_ref());
    let kind = match py_fold(kind_text, false, true)?.as_deref() {
        Some("CLIENT") => Some(3),
        Some("SERVER") => Some(2),
        Some("PRODUCER") => Some(4),
        Some("CONSUMER") => Some(5),
        _ => None,
    };
    let kind = match kind {
        Some(kind) => kind,
        None => match get(&tags, "span.kind") {
            None => 0,
            Some(text) => match kind_from_tag(text)? {
                Some(kind) => {
                    pop(&mut tags, "span.kind");
                    kind
                }
                None => 0,
            },
        },
    };
    let (status, message) = status_from_tags(&mut tags)?;
    let scope_name = pop_first(&mut tags, ["otel.scope.name", "otel.library.name"]);
    let scope_version = pop_first(&mut tags, ["otel.scope.version", "otel.library.version"]);
    let links = links_from_tags(&mut tags)?;
    let local = span.local_endpoint.map(place).transpose()?;
    let remote = span.remote_endpoint.map(place).transpose()?;
    let service = local.as_ref().map_or("", |l| l.service.as_ref());

    // The resource: the service name (under the key a tag names), then resource tags.
    let source = pop(&mut tags, "otlp.service.name.source").unwrap_or_default();
    let source: &str = if source.is_empty() {
        "service.name"
    } else {
        &source
    };
    let mut resource: Attrs<'_> = Vec::new();
    if !service.is_empty() {
        resource.push((Cow::Borrowed(source), Cow::Borrowed(service), b's'));
    }
    let mut i = 0;
    while i < tags.len() {
        if resource_keys().contains(tags[i].0.as_ref()) {
            let (key, value) = tags.remove(i);
            if !resource.iter().any(|(k, _, _)| *k == key) {
                resource.push((key, value, b's'));
            }
        } else {
            i += 1;
        }
    }

    // Span attributes: the remaining tags, then endpoint attributes no tag names.
    let mut attrs: Attrs<'_> = tags.into_iter().map(|(k, v)| (k, v, b's')).collect();
    let mut add = |key: &'static str, text: Cow<'_, str>, code: u8| {
        if !attrs.iter().any(|(k, _, _)| k == key) {
            attrs.push((Cow::Borrowed(key), Cow::Owned(text.into_owned()), code));
        }
    };
    if let Some(local) = &local {
        if !local.ip.is_empty() {
            add("net.host.ip", Cow::Borrowed(&local.ip), b's');
        }
        if local.port != 0 {
            add("net.host.port", Cow::Owned(local.port.to_string()), b'i');
        }
    }
    if let Some(remote) = &remote {
        if !remote.service.is_empty() {
            add("peer.service", Cow::Borrowed(&remote.service), b's');
        }
        if !remote.ip.is_empty() {
            add("net.peer.ip", Cow::Borrowed(&remote.ip), b's');
        }
        if remote.port != 0 {
            add("net.peer.port", Cow::Owned(remote.port.to_string()), b'i');
        }
    }

    // Columns, limits applied in the reference's order: events, resource, span.
    let mut counts = [0u64; 2];
    for (time, value) in events.iter().take(limits.max_events) {
        let (name, event_attrs) = parse_annotation(value)?;
        batch.event_times.push(time * 1000);
        batch.event_names.push(name.as_bytes());
        cap(
            &mut batch.event_attributes,
            &event_attrs,
            limits,
            &mut counts,
        );
        end_attr_row(&mut batch.event_attributes);
    }
    batch.event_offsets.push(batch.event_times.len() as i32);
    for link in links.iter().take(limits.max_links) {
        batch.link_trace_ids.push(link.trace_id.as_bytes());
        batch.link_span_ids.push(link.span_id.as_bytes());
        batch.link_states.push(link.state.as_bytes());
        cap(&mut batch.link_attributes, &link.attrs, limits, &mut counts);
        end_attr_row(&mut batch.link_attributes);
    }
    batch.link_offsets.push(batch.link_trace_ids.len() as i32);
    cap(&mut batch.resources, &resource, limits, &mut counts);
    end_attr_row(&mut batch.resources);
    let spans = &mut batch.attributes;
    cap(spans, &attrs, limits, &mut counts);
    for (mark, on) in [
        ("otel.zipkin.absentField.startTime", timestamp == 0),
        ("zipkin.shared", span.shared == Some(true)),
        ("zipkin.debug", span.debug == Some(true)),
    ] {
        if on {
            push_attr(spans, mark.as_bytes(), b"true", b'b');
        }
    }
    let dropped_events = events.len().saturating_sub(limits.max_events) as u64;
    for (key, count) in [
        (TRUNCATED_KEY, counts[0]),
        (DROPPED_ATTRIBUTES_KEY, counts[1]),
        (DROPPED_EVENTS_KEY, dropped_events),
        (
            DROPPED_LINKS_KEY,
            links.len().saturating_sub(limits.max_links) as u64,
        ),
    ] {
        if count > 0 {
            push_attr(spans, key, count.to_string().as_bytes(), b'i');
        }
    }
    end_attr_row(spans);

    batch.trace_ids.end_row();
    batch.span_ids.end_row();
    batch.parent_ids.end_row();
    batch.starts.push(timestamp * 1000);
    batch.durations.push(duration * 1000);
    batch.trace_states.push(trace_state.as_bytes());
    batch
        .names
        .push(span.name.as_ref().map_or(b"" as &[u8], |n| n.0.as_bytes()));
    batch.kinds.push(kind);
    batch.services.push(if service.is_empty() {
        UNKNOWN_SERVICE.as_bytes()
    } else {
        service.as_bytes()
    });
    batch.scope_names.push(scope_name.as_bytes());
    batch.scope_versions.push(scope_version.as_bytes());
    batch.status_codes.push(status);
    batch.status_messages.push(message.as_bytes());
    Ok(())
}
