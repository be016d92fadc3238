//! A decoded request in `SPAN_SCHEMA` column order, handed to Python as the tuple that
//! `codec/otlp/native.py` assembles (the layout `decode_otlp_proto` returns). The JSON
//! decoders fill it; every column has one row per span, events and links one per entry.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::columns::{AttrCol, StrCol};

pub struct Batch {
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

/// An empty attribute-map column (rows are added with `end_attr_row`), with room for
/// `entries` attributes of `bytes` key and value bytes.
pub fn attr_column(entries: usize, bytes: usize) -> AttrCol {
    let mut offsets = Vec::with_capacity(entries / 8 + 1);
    offsets.push(0);
    AttrCol {
        offsets,
        keys: StrCol::with_capacity(entries, bytes / 2),
        texts: StrCol::with_capacity(entries, bytes / 2),
        codes: Vec::with_capacity(entries),
    }
}

/// Appends one attribute to the open row of `column`.
pub fn push_attr(column: &mut AttrCol, key: &[u8], text: &[u8], code: u8) {
    column.keys.push(key);
    column.texts.push(text);
    column.codes.push(code);
}

pub fn end_attr_row(column: &mut AttrCol) {
    column.offsets.push(column.codes.len() as i32);
}

impl Batch {
    /// Room for `spans` spans of a `body` bytes long request (attributes take most of it).
    pub fn new(spans: usize, body: usize) -> Batch {
        let strings = || StrCol::with_capacity(spans, spans * 16);
        Batch {
            starts: Vec::with_capacity(spans),
            trace_ids: StrCol::with_capacity(spans, spans * 32),
            span_ids: StrCol::with_capacity(spans, spans * 16),
            parent_ids: StrCol::with_capacity(spans, spans * 16),
            trace_states: StrCol::with_capacity(spans, 0),
            names: strings(),
            kinds: Vec::with_capacity(spans),
            services: strings(),
            resources: attr_column(spans * 4, body / 8),
            scope_names: strings(),
            scope_versions: strings(),
            attributes: attr_column(spans * 16, body / 2),
            durations: Vec::with_capacity(spans),
            status_codes: Vec::with_capacity(spans),
            status_messages: StrCol::with_capacity(spans, 0),
            event_offsets: vec![0],
            event_times: Vec::new(),
            event_names: StrCol::with_capacity(0, 0),
            event_attributes: attr_column(0, 0),
            link_offsets: vec![0],
            link_trace_ids: StrCol::with_capacity(0, 0),
            link_span_ids: StrCol::with_capacity(0, 0),
            link_states: StrCol::with_capacity(0, 0),
            link_attributes: attr_column(0, 0),
            keep: None,
            rejected: 0,
            error: String::new(),
        }
    }

    pub fn into_tuple(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        crate::hand_over(py, self.into_decoded())
    }

    /// The same columns as the protobuf decoder's, so one hand-over serves every decoder.
    pub fn into_decoded(self) -> crate::otlp::Decoded {
        crate::otlp::Decoded {
            spans: self.starts.len(),
            starts: self.starts,
            trace_ids: self.trace_ids,
            span_ids: self.span_ids,
            parent_ids: self.parent_ids,
            trace_states: self.trace_states,
            names: self.names,
            kinds: self.kinds,
            services: self.services,
            resources: self.resources,
            scope_names: self.scope_names,
            scope_versions: self.scope_versions,
            attributes: self.attributes,
            durations: self.durations,
            status_codes: self.status_codes,
            status_messages: self.status_messages,
            event_offsets: self.event_offsets,
            event_times: self.event_times,
            event_names: self.event_names,
            event_attributes: self.event_attributes,
            link_offsets: self.link_offsets,
            link_trace_ids: self.link_trace_ids,
            link_span_ids: self.link_span_ids,
            link_states: self.link_states,
            link_attributes: self.link_attributes,
            keep: self.keep,
            rejected: self.rejected,
            error: self.error,
        }
    }
}
