//! `ExportTraceServiceRequest` bytes to span columns, by the rules of `codec/otlp/`, in one
//! walk: each field goes straight to its column (ids as hex, attributes decoded with their
//! limits and markers, a resource's and a scope's values repeated for their spans when their
//! message ends). What the Python decoder parses only after the request (attributes, statuses)
//! fails only once the request has parsed and holds spans, as there.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::columns::{AttrCol, Limits, OpenRow, StrCol, DROPPED_EVENTS_KEY, DROPPED_LINKS_KEY};
use crate::wire::{key_value, Malformed, Reader, Result, FIXED64, LEN, VARINT};

const MIN_START_NS: u64 = 946_684_800 * 1_000_000_000; // 2000-01-01T00:00:00Z
const FUTURE_SLACK_NS: u64 = 86_400 * 1_000_000_000; // clocks may run ahead, but not by a day

/// Why a request failed as a whole: the Python decoder's messages.
pub enum Failure {
    Request(Malformed),
    TooManySpans(usize),
    Status(Malformed),
    Attribute(Malformed),
}

impl Failure {
    pub fn message(&self, limits: &Limits) -> String {
        match self {
            Failure::Request(why) => format!(
                "malformed OTLP protobuf request: Error parsing message with type \
                 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest': {}",
                why.reason()
            ),
            Failure::TooManySpans(total) => {
                format!(
                    "too many spans in one request: {total} > {}",
                    limits.max_spans
                )
            }
            Failure::Status(why) => format!(
                "malformed OTLP span status: Error parsing message with type \
                 'opentelemetry.proto.trace.v1.Status': {}",
                why.reason()
            ),
            Failure::Attribute(why) => format!(
                "malformed OTLP attribute: Error parsing message with type \
                 'opentelemetry.proto.common.v1.KeyValue': {}",
                why.reason()
            ),
        }
    }
}

/// The decoded request: columns in `SPAN_SCHEMA` order, and which spans were rejected.
pub struct Decoded {
    pub spans: usize,
    pub starts: Vec<i64>,
    pub trace_ids: StrCol,
    pub span_ids: StrCol,
    pub parent_ids: StrCol,
    pub trace_states: StrCol,
    pub names: StrCol,
    pub kinds: Vec<i8>,
    pub services: StrCol,
    pub resources: AttrCol,
    pub scope_names: StrCol,
    pub scope_versions: StrCol,
    pub attributes: AttrCol,
    pub durations: Vec<i64>,
    pub status_codes: Vec<i8>,
    pub status_messages: StrCol,
    pub event_offsets: Vec<i32>,
    pub event_times: Vec<i64>,
    pub event_names: StrCol,
    pub event_attributes: AttrCol,
    pub link_offsets: Vec<i32>,
    pub link_trace_ids: StrCol,
    pub link_span_ids: StrCol,
    pub link_states: StrCol,
    pub link_attributes: AttrCol,
    /// One byte per span, 1 to keep (None: all kept), and why the others were rejected.
    pub keep: Option<Vec<u8>>,
    pub rejected: usize,
    pub error: String,
}

pub fn decode(body: &[u8], limits: Limits) -> std::result::Result<Option<Decoded>, Failure> {
    let mut walk = Walk::new(limits, body.len());
    walk.request(body).map_err(Failure::Request)?;
    let total = walk.out.spans;
    if total > limits.max_spans {
        return Err(Failure::TooManySpans(total));
    }
    if total == 0 {
        return Ok(None);
    }
    if let Some(failure) = walk.deferred {
        return Err(failure);
    }
    Ok(Some(walk.finish()))
}

/// An enum value, 0 when outside `0..=highest` (proto3 enums are open).
fn enum_value(value: i32, highest: i32) -> i8 {
    if (0..=highest).contains(&value) {
        value as i8
    } else {
        0
    }
}

fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

fn span_problem(
    trace_id: &[u8],
    span_id: &[u8],
    parent: &[u8],
    start: u64,
    end: u64,
    latest: u64,
) -> &'static str {
    if !valid_id(trace_id, 16) {
        return "invalid trace id (must be 16 bytes, not all zero)";
    }
    if !valid_id(span_id, 8) {
        return "invalid span id (must be 8 bytes, not all zero)";
    }
    if !parent.is_empty() && !valid_id(parent, 8) {
        return "invalid parent span id (must be empty or 8 bytes, not all zero)";
    }
    if start < MIN_START_NS {
        return "start time is 0 or before the year 2000";
    }
    if start > latest {
        return "start time is more than a day in the future";
    }
    if end < start {
        return "end time is before start time";
    }
    if end > latest {
        return "end time is more than a day in the future";
    }
    ""
}

/// A `Status` as (code, message).
fn status(raw: &[u8]) -> Result<(i32, &[u8])> {
    let (mut code, mut message): (i32, &[u8]) = (0, b"");
    let mut reader = Reader::new(raw);
    while let Some((tag, wire_type)) = reader.next()? {
        match (tag, wire_type) {
            (2, LEN) => message = reader.string()?,
            (3, VARINT) => code = reader.varint()? as i32,
            _ => reader.skip(tag, wire_type)?,
        }
    }
    Ok((code, message))
}

/// The walk: the output columns, the resource being read, and the first fault the Python
/// decoder would find only after the request parsed.
struct Walk<'a> {
    limits: Limits,
    latest: u64,
    out: Decoded,
    reasons: Vec<(&'static str, usize)>,
    deferred: Option<Failure>,
    /// The current `ResourceSpans`' attributes (one row) and its spans so far.
    resource: AttrCol,
    resource_spans: usize,
    /// A link's attributes, read once its ids show it is kept.
    link_raws: Vec<&'a [u8]>,
    /// The last status decoded (spans of one request mostly share theirs).
    last_status: (&'a [u8], i8, &'a [u8]),
}

impl<'a> Walk<'a> {
    fn new(limits: Limits, body_len: usize) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // Sizes from the body (counting its spans first costs a pass over memory): a span with
        // a few attributes takes ~200 bytes; the columns grow past a guess (big buffers by
        // remapping, not copying).
        let spans = (body_len / 192).min(limits.max_spans.saturating_add(1));
        let text = body_len;
        let attributes = spans * 12;
        let mut event_offsets = Vec::with_capacity(spans + 1);
        event_offsets.push(0);
        let mut link_offsets = Vec::with_capacity(spans + 1);
        link_offsets.push(0);
        Walk {
            limits,
            latest: now + FUTURE_SLACK_NS,
            out: Decoded {
                spans: 0,
                starts: Vec::with_capacity(spans),
                trace_ids: StrCol::with_capacity(spans, spans * 32),
                span_ids: StrCol::with_capacity(spans, spans * 16),
                parent_ids: StrCol::with_capacity(spans, spans * 16),
                trace_states: StrCol::with_capacity(spans, 0),
                names: StrCol::with_capacity(spans, spans * 16),
                kinds: Vec::with_capacity(spans),
                services: StrCol::with_capacity(spans, spans * 16),
                resources: AttrCol::with_capacity(spans, spans * 6, spans * 256),
                scope_names: StrCol::with_capacity(spans, spans * 24),
                scope_versions: StrCol::with_capacity(spans, spans * 8),
                attributes: AttrCol::with_capacity(spans, attributes, text),
                durations: Vec::with_capacity(spans),
                status_codes: Vec::with_capacity(spans),
                status_messages: StrCol::with_capacity(spans, 0),
                event_offsets,
                event_times: Vec::new(),
                event_names: StrCol::with_capacity(0, 0),
                event_attributes: AttrCol::with_capacity(0, 0, 0),
                link_offsets,
                link_trace_ids: StrCol::with_capacity(0, 0),
                link_span_ids: StrCol::with_capacity(0, 0),
                link_states: StrCol::with_capacity(0, 0),
                link_attributes: AttrCol::with_capacity(0, 0, 0),
                keep: None,
                rejected: 0,
                error: String::new(),
            },
            reasons: Vec::new(),
            deferred: None,
            resource: AttrCol::with_capacity(1, 16, 512),
            resource_spans: 0,
            link_raws: Vec::new(),
            last_status: (b"", 0, b""),
        }
    }

    fn defer(&mut self, failure: Failure) {
        self.deferred.get_or_insert(failure);
    }

    fn request(&mut self, body: &'a [u8]) -> Result<()> {
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => self.resource_spans(reader.bytes()?)?,
                _ => reader.skip(tag, wire_type)?,
            }
        }
        Ok(())
    }

    fn resource_spans(&mut self, body: &'a [u8]) -> Result<()> {
        self.resource.clear();
        let mut row = self.resource.open_row();
        self.resource_spans = 0;
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => self.resource_message(reader.bytes()?, &mut row)?,
                (2, LEN) => self.scope_spans(reader.bytes()?)?,
                (3, LEN) => drop(reader.string()?), // schema_url
                _ => reader.skip(tag, wire_type)?,
            }
        }
        // Every `Resource` field of one `ResourceSpans` merged into one row, then that row
        // (and its service) for each of its spans.
        self.resource.close_row(row, &self.limits, &[]);
        let service = service_name(&self.resource);
        let spans = self.resource_spans;
        self.out.services.push_repeated(service, spans);
        self.out.resources.push_repeated(&self.resource, 0, spans);
        Ok(())
    }

    /// Resource attributes go to the resource's row.
    fn resource_message(&mut self, body: &'a [u8], row: &mut OpenRow) -> Result<()> {
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => {
                    let raw = reader.bytes()?;
                    if let Err(why) = self.resource.offer(row, raw, &self.limits) {
                        self.defer(Failure::Attribute(why));
                    }
                }
                (3, LEN) => entity_ref(reader.bytes()?)?,
                _ => reader.skip(tag, wire_type)?,
            }
        }
        Ok(())
    }

    fn scope_spans(&mut self, body: &'a [u8]) -> Result<()> {
        let (mut name, mut version): (&[u8], &[u8]) = (b"", b"");
        let first_span = self.out.spans;
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => scope(reader.bytes()?, &mut name, &mut version)?,
                (2, LEN) => self.span(reader.bytes()?)?,
                (3, LEN) => drop(reader.string()?),
                _ => reader.skip(tag, wire_type)?,
            }
        }
        let spans = self.out.spans - first_span;
        self.out.scope_names.push_repeated(name, spans);
        self.out.scope_versions.push_repeated(version, spans);
        self.resource_spans += spans;
        Ok(())
    }

    fn span(&mut self, body: &'a [u8]) -> Result<()> {
        let (mut trace_id, mut span_id, mut parent_id): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let (mut trace_state, mut name, mut status): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let (mut kind, mut start, mut end) = (0i32, 0u64, 0u64);
        let mut events = 0usize;
        let mut links = 0usize;
        let mut kept_links = 0usize;
        let mut row = self.out.attributes.open_row();
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => trace_id = reader.bytes()?,
                (2, LEN) => span_id = reader.bytes()?,
                (3, LEN) => trace_state = reader.string()?,
                (4, LEN) => parent_id = reader.bytes()?,
                (5, LEN) => name = reader.string()?,
                (6, VARINT) => kind = reader.varint()? as i32,
                (7, FIXED64) => start = reader.fixed64()?,
                (8, FIXED64) => end = reader.fixed64()?,
                (9, LEN) => {
                    let raw = reader.bytes()?;
                    if let Err(why) = self.out.attributes.offer(&mut row, raw, &self.limits) {
                        self.defer(Failure::Attribute(why));
                    }
                }
                (11, LEN) => {
                    let event = reader.bytes()?;
                    self.event(event, events < self.limits.max_events)?;
                    events += 1;
                }
                (13, LEN) => {
                    let link = reader.bytes()?;
                    kept_links += usize::from(self.link(link, links < self.limits.max_links)?);
                    links += 1;
                }
                (15, LEN) => status = reader.bytes()?,
                _ => reader.skip(tag, wire_type)?,
            }
        }
        let out = &mut self.out;
        out.spans += 1;
        out.trace_ids.push_hex(trace_id);
        out.span_ids.push_hex(span_id);
        out.parent_ids.push_hex(parent_id);
        out.trace_states.push(trace_state);
        out.names.push(name);
        out.kinds.push(enum_value(kind, 5));
        out.starts.push(start as i64);
        let mut markers: [(&[u8], u64); 2] = [(b"", 0); 2];
        let mut marked = 0;
        if events > self.limits.max_events {
            markers[marked] = (DROPPED_EVENTS_KEY, (events - self.limits.max_events) as u64);
            marked += 1;
        }
        if links > kept_links {
            markers[marked] = (DROPPED_LINKS_KEY, (links - kept_links) as u64);
            marked += 1;
        }
        out.attributes
            .close_row(row, &self.limits, &markers[..marked]);
        out.event_offsets.push(out.event_times.len() as i32);
        out.link_offsets.push(out.link_trace_ids.len() as i32);
        if status != self.last_status.0 {
            match self::status(status) {
                Ok((code, message)) => self.last_status = (status, enum_value(code, 2), message),
                Err(why) => {
                    self.defer(Failure::Status(why));
                    self.last_status = (b"", 0, b""); // any value: the request fails
                }
            }
        }
        let out = &mut self.out;
        out.status_codes.push(self.last_status.1);
        out.status_messages.push(self.last_status.2);
        let problem = span_problem(trace_id, span_id, parent_id, start, end, self.latest);
        if problem.is_empty() {
            out.durations.push((end - start) as i64);
        } else {
            // A rejected span's duration is 0 (its start may not fit an int64): filtered out.
            out.durations.push(0);
            let row = out.spans - 1;
            out.keep.get_or_insert_with(|| vec![1; row]).push(0);
            match self
                .reasons
                .iter_mut()
                .find(|(reason, _)| *reason == problem)
            {
                Some(seen) => seen.1 += 1,
                None => self.reasons.push((problem, 1)),
            }
            return Ok(());
        }
        if let Some(keep) = &mut out.keep {
            keep.push(1);
        }
        Ok(())
    }

    fn event(&mut self, body: &'a [u8], keep: bool) -> Result<()> {
        let (mut time, mut name): (u64, &[u8]) = (0, b"");
        let attributes = &mut self.out.event_attributes;
        let mut row = attributes.open_row();
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, FIXED64) => time = reader.fixed64()?,
                (2, LEN) => name = reader.string()?,
                (3, LEN) => {
                    let raw = reader.bytes()?;
                    if keep {
                        if let Err(why) = attributes.offer(&mut row, raw, &self.limits) {
                            self.deferred.get_or_insert(Failure::Attribute(why));
                        }
                    }
                }
                _ => reader.skip(tag, wire_type)?,
            }
        }
        if keep {
            attributes.close_row(row, &self.limits, &[]);
            self.out.event_times.push(if time > i64::MAX as u64 {
                0
            } else {
                time as i64
            });
            self.out.event_names.push(name);
        }
        Ok(())
    }

    /// Adds the link if `keep` and its ids are valid; true if added. Its attributes are read
    /// only then (the Python decoder never parses a dropped link's).
    fn link(&mut self, body: &'a [u8], keep: bool) -> Result<bool> {
        let (mut trace_id, mut span_id, mut state): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        self.link_raws.clear();
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => trace_id = reader.bytes()?,
                (2, LEN) => span_id = reader.bytes()?,
                (3, LEN) => state = reader.string()?,
                (4, LEN) => self.link_raws.push(reader.bytes()?),
                _ => reader.skip(tag, wire_type)?,
            }
        }
        if !keep || !valid_id(trace_id, 16) || !valid_id(span_id, 8) {
            return Ok(false);
        }
        let out = &mut self.out;
        out.link_trace_ids.push_hex(trace_id);
        out.link_span_ids.push_hex(span_id);
        out.link_states.push(state);
        let mut row = out.link_attributes.open_row();
        for raw in &self.link_raws {
            if let Err(why) = out.link_attributes.offer(&mut row, raw, &self.limits) {
                self.deferred.get_or_insert(Failure::Attribute(why));
            }
        }
        out.link_attributes.close_row(row, &self.limits, &[]);
        Ok(true)
    }

    /// The columns, and the rejected spans counted per reason in the order first seen.
    fn finish(self) -> Decoded {
        let mut out = self.out;
        if !self.reasons.is_empty() {
            let rejected: usize = self.reasons.iter().map(|(_, n)| n).sum();
            let details: Vec<String> = self
                .reasons
                .iter()
                .map(|(reason, n)| format!("{reason} ({n})"))
                .collect();
            out.error = format!(
                "rejected {rejected} of {} spans: {}",
                out.spans,
                details.join("; ")
            );
            out.rejected = rejected;
        }
        out
    }
}

/// The scope's name and version (a repeated `scope` field merges); its attributes are not
/// kept, but must parse.
fn scope<'a>(body: &'a [u8], name: &mut &'a [u8], version: &mut &'a [u8]) -> Result<()> {
    let mut reader = Reader::new(body);
    while let Some((tag, wire_type)) = reader.next()? {
        match (tag, wire_type) {
            (1, LEN) => *name = reader.string()?,
            (2, LEN) => *version = reader.string()?,
            (3, LEN) => drop(key_value(reader.bytes()?, 3)?),
            _ => reader.skip(tag, wire_type)?,
        }
    }
    Ok(())
}

/// An `EntityRef` (a resource's entity references): not kept, but its strings must be UTF-8.
fn entity_ref(body: &[u8]) -> Result<()> {
    let mut reader = Reader::new(body);
    while let Some((tag, wire_type)) = reader.next()? {
        match (tag, wire_type) {
            (1..=4, LEN) => drop(reader.string()?),
            _ => reader.skip(tag, wire_type)?,
        }
    }
    Ok(())
}

/// `service.name` of a one-row resource column: a non-empty string value (as cut), else
/// `unknown_service`.
fn service_name(resource: &AttrCol) -> &[u8] {
    let mut name: &[u8] = b"unknown_service";
    for i in 0..resource.codes.len() {
        if resource.keys.get(i) == b"service.name"
            && resource.codes[i] == b's'
            && !resource.texts.get(i).is_empty()
        {
            name = resource.texts.get(i);
        }
    }
    name
}
