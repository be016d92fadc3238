//! `ExportTraceServiceRequest` bytes to span columns, by the rules of `codec/otlp/`: one walk
//! over the request collects every field (attributes as raw `KeyValue` bytes, as the Python
//! decoder's shadow schema leaves them), then the checks and the columns, in the Python
//! decoder's order so that the same input fails with the same error.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::columns::{AttrCol, Limits, Rows, StrCol, DROPPED_EVENTS_KEY, DROPPED_LINKS_KEY};
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

/// Everything the walk collects, borrowing from the request bytes.
struct Walk<'a> {
    limits: Limits,
    trace_ids: Vec<&'a [u8]>,
    span_ids: Vec<&'a [u8]>,
    parent_ids: Vec<&'a [u8]>,
    trace_states: Vec<&'a [u8]>,
    names: Vec<&'a [u8]>,
    kinds: Vec<i32>,
    starts: Vec<u64>,
    ends: Vec<u64>,
    statuses: Vec<&'a [u8]>,
    attributes: Rows<'a>,
    resource_index: Vec<i32>,
    scope_index: Vec<i32>,
    resources: Rows<'a>,
    scope_names: Vec<&'a [u8]>,
    scope_versions: Vec<&'a [u8]>,
    event_offsets: Vec<i32>,
    event_times: Vec<u64>,
    event_names: Vec<&'a [u8]>,
    event_attributes: Rows<'a>,
    link_offsets: Vec<i32>,
    link_trace_ids: Vec<&'a [u8]>,
    link_span_ids: Vec<&'a [u8]>,
    link_states: Vec<&'a [u8]>,
    link_attributes: Rows<'a>,
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
    let mut walk = Walk::new(limits);
    walk.request(body).map_err(Failure::Request)?;
    let total = walk.trace_ids.len();
    if total > limits.max_spans {
        return Err(Failure::TooManySpans(total));
    }
    if total == 0 {
        return Ok(None);
    }
    walk.finish().map(Some)
}

fn strings(values: &[&[u8]]) -> StrCol {
    let mut column = StrCol::with_capacity(values.len(), values.iter().map(|v| v.len()).sum());
    for value in values {
        column.push(value);
    }
    column
}

fn hex(values: &[&[u8]]) -> StrCol {
    let mut column = StrCol::with_capacity(values.len(), values.iter().map(|v| 2 * v.len()).sum());
    for value in values {
        column.push_hex(value);
    }
    column
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

impl<'a> Walk<'a> {
    fn new(limits: Limits) -> Self {
        Walk {
            limits,
            trace_ids: Vec::new(),
            span_ids: Vec::new(),
            parent_ids: Vec::new(),
            trace_states: Vec::new(),
            names: Vec::new(),
            kinds: Vec::new(),
            starts: Vec::new(),
            ends: Vec::new(),
            statuses: Vec::new(),
            attributes: Rows::new(),
            resource_index: Vec::new(),
            scope_index: Vec::new(),
            resources: Rows::new(),
            scope_names: Vec::new(),
            scope_versions: Vec::new(),
            event_offsets: vec![0],
            event_times: Vec::new(),
            event_names: Vec::new(),
            event_attributes: Rows::new(),
            link_offsets: vec![0],
            link_trace_ids: Vec::new(),
            link_span_ids: Vec::new(),
            link_states: Vec::new(),
            link_attributes: Rows::new(),
        }
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
        let resource = self.resources.rows() as i32;
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => self.resource(reader.bytes()?)?,
                (2, LEN) => self.scope_spans(reader.bytes()?, resource)?,
                (3, LEN) => drop(reader.string()?), // schema_url
                _ => reader.skip(tag, wire_type)?,
            }
        }
        self.resources.end_row();
        Ok(())
    }

    /// Resource attributes stay raw; every `Resource` field of one `ResourceSpans` merges.
    fn resource(&mut self, body: &'a [u8]) -> Result<()> {
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => self.resources.raws.push(reader.bytes()?),
                (3, LEN) => entity_ref(reader.bytes()?)?,
                _ => reader.skip(tag, wire_type)?,
            }
        }
        Ok(())
    }

    fn scope_spans(&mut self, body: &'a [u8], resource: i32) -> Result<()> {
        let scope = self.scope_names.len();
        self.scope_names.push(b"");
        self.scope_versions.push(b"");
        let first_span = self.trace_ids.len();
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => self.scope(reader.bytes()?, scope)?,
                (2, LEN) => self.span(reader.bytes()?)?,
                (3, LEN) => drop(reader.string()?),
                _ => reader.skip(tag, wire_type)?,
            }
        }
        let spans = self.trace_ids.len() - first_span;
        self.resource_index
            .extend(std::iter::repeat_n(resource, spans));
        self.scope_index
            .extend(std::iter::repeat_n(scope as i32, spans));
        Ok(())
    }

    /// The scope's name and version; its attributes are not kept, but must parse.
    fn scope(&mut self, body: &'a [u8], scope: usize) -> Result<()> {
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => self.scope_names[scope] = reader.string()?,
                (2, LEN) => self.scope_versions[scope] = reader.string()?,
                (3, LEN) => drop(key_value(reader.bytes()?, 3)?),
                _ => reader.skip(tag, wire_type)?,
            }
        }
        Ok(())
    }

    fn span(&mut self, body: &'a [u8]) -> Result<()> {
        let (mut trace_id, mut span_id, mut parent_id): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let (mut trace_state, mut name, mut status): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let (mut kind, mut start, mut end) = (0i32, 0u64, 0u64);
        let mut events = 0usize;
        let mut links = 0usize;
        let mut kept_links = 0usize;
        let row = self.trace_ids.len();
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
                (9, LEN) => self.attributes.raws.push(reader.bytes()?),
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
        self.trace_ids.push(trace_id);
        self.span_ids.push(span_id);
        self.parent_ids.push(parent_id);
        self.trace_states.push(trace_state);
        self.names.push(name);
        self.kinds.push(kind);
        self.starts.push(start);
        self.ends.push(end);
        self.statuses.push(status);
        self.attributes.end_row();
        if events > self.limits.max_events {
            let dropped = (events - self.limits.max_events) as u64;
            self.attributes.mark(row, DROPPED_EVENTS_KEY, dropped);
        }
        if links > kept_links {
            self.attributes
                .mark(row, DROPPED_LINKS_KEY, (links - kept_links) as u64);
        }
        self.event_offsets.push(self.event_times.len() as i32);
        self.link_offsets.push(self.link_trace_ids.len() as i32);
        Ok(())
    }

    fn event(&mut self, body: &'a [u8], keep: bool) -> Result<()> {
        let (mut time, mut name): (u64, &[u8]) = (0, b"");
        let first = self.event_attributes.raws.len();
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, FIXED64) => time = reader.fixed64()?,
                (2, LEN) => name = reader.string()?,
                (3, LEN) => {
                    let raw = reader.bytes()?;
                    if keep {
                        self.event_attributes.raws.push(raw);
                    }
                }
                _ => reader.skip(tag, wire_type)?,
            }
        }
        debug_assert!(keep || self.event_attributes.raws.len() == first);
        if keep {
            self.event_times.push(time);
            self.event_names.push(name);
            self.event_attributes.end_row();
        }
        Ok(())
    }

    /// Adds the link if `keep` and its ids are valid; true if added.
    fn link(&mut self, body: &'a [u8], keep: bool) -> Result<bool> {
        let (mut trace_id, mut span_id, mut state): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let first = self.link_attributes.raws.len();
        let mut reader = Reader::new(body);
        while let Some((tag, wire_type)) = reader.next()? {
            match (tag, wire_type) {
                (1, LEN) => trace_id = reader.bytes()?,
                (2, LEN) => span_id = reader.bytes()?,
                (3, LEN) => state = reader.string()?,
                (4, LEN) => self.link_attributes.raws.push(reader.bytes()?),
                _ => reader.skip(tag, wire_type)?,
            }
        }
        if !keep || !valid_id(trace_id, 16) || !valid_id(span_id, 8) {
            self.link_attributes.raws.truncate(first);
            return Ok(false);
        }
        self.link_trace_ids.push(trace_id);
        self.link_span_ids.push(span_id);
        self.link_states.push(state);
        self.link_attributes.end_row();
        Ok(true)
    }

    fn finish(self) -> std::result::Result<Decoded, Failure> {
        let limits = self.limits;
        let count = self.trace_ids.len();
        let mut status_codes = Vec::with_capacity(count);
        let mut status_messages = StrCol::with_capacity(count, 0);
        let mut last: (&[u8], i8, &[u8]) = (b"", 0, b"");
        for raw in &self.statuses {
            if *raw != last.0 {
                let (code, message) = status(raw).map_err(Failure::Status)?;
                last = (raw, enum_value(code, 2), message);
            }
            status_codes.push(last.1);
            status_messages.push(last.2);
        }
        let (keep, rejected, error, durations) = self.check();
        let resources = AttrCol::build(&self.resources, &limits).map_err(Failure::Attribute)?;
        let services = service_names(&resources).take(&self.resource_index);
        let resources = resources.take(&self.resource_index);
        let attributes = AttrCol::build(&self.attributes, &limits).map_err(Failure::Attribute)?;
        let event_attributes =
            AttrCol::build(&self.event_attributes, &limits).map_err(Failure::Attribute)?;
        let link_attributes =
            AttrCol::build(&self.link_attributes, &limits).map_err(Failure::Attribute)?;
        Ok(Decoded {
            spans: count,
            starts: self.starts.iter().map(|t| *t as i64).collect(),
            trace_ids: hex(&self.trace_ids),
            span_ids: hex(&self.span_ids),
            parent_ids: hex(&self.parent_ids),
            trace_states: strings(&self.trace_states),
            names: strings(&self.names),
            kinds: self.kinds.iter().map(|k| enum_value(*k, 5)).collect(),
            services,
            resources,
            scope_names: strings(&self.scope_names).take(&self.scope_index),
            scope_versions: strings(&self.scope_versions).take(&self.scope_index),
            attributes,
            durations,
            status_codes,
            status_messages,
            event_offsets: self.event_offsets,
            event_times: self
                .event_times
                .iter()
                .map(|t| if *t > i64::MAX as u64 { 0 } else { *t as i64 })
                .collect(),
            event_names: strings(&self.event_names),
            event_attributes,
            link_offsets: self.link_offsets,
            link_trace_ids: hex(&self.link_trace_ids),
            link_span_ids: hex(&self.link_span_ids),
            link_states: strings(&self.link_states),
            link_attributes,
            keep,
            rejected,
            error,
        })
    }

    /// Which spans to keep, how many were rejected and why, and the durations (0 for a
    /// rejected span, whose start may not fit an int64 either: it is filtered out).
    fn check(&self) -> (Option<Vec<u8>>, usize, String, Vec<i64>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let latest = now + FUTURE_SLACK_NS;
        let count = self.trace_ids.len();
        let mut keep = vec![1u8; count];
        let mut durations = Vec::with_capacity(count);
        let mut reasons: Vec<(&'static str, usize)> = Vec::new();
        for i in 0..count {
            let (start, end) = (self.starts[i], self.ends[i]);
            let problem = span_problem(
                self.trace_ids[i],
                self.span_ids[i],
                self.parent_ids[i],
                start,
                end,
                latest,
            );
            if problem.is_empty() {
                durations.push((end - start) as i64);
                continue;
            }
            keep[i] = 0;
            durations.push(0);
            match reasons.iter_mut().find(|(reason, _)| *reason == problem) {
                Some(seen) => seen.1 += 1,
                None => reasons.push((problem, 1)),
            }
        }
        if reasons.is_empty() {
            return (None, 0, String::new(), durations);
        }
        let rejected: usize = reasons.iter().map(|(_, n)| n).sum();
        let details: Vec<String> = reasons
            .iter()
            .map(|(reason, n)| format!("{reason} ({n})"))
            .collect();
        let error = format!(
            "rejected {rejected} of {count} spans: {}",
            details.join("; ")
        );
        (Some(keep), rejected, error, durations)
    }
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

/// `service.name` of each resource: a non-empty string value, else `unknown_service`.
fn service_names(resources: &AttrCol) -> StrCol {
    let rows = resources.offsets.len() - 1;
    let mut names = StrCol::with_capacity(rows, rows * 16);
    for row in 0..rows {
        let mut name: &[u8] = b"unknown_service";
        for i in resources.offsets[row] as usize..resources.offsets[row + 1] as usize {
            if resources.keys.get(i) == b"service.name"
                && resources.codes[i] == b's'
                && !resources.texts.get(i).is_empty()
            {
                name = resources.texts.get(i);
            }
        }
        names.push(name);
    }
    names
}
