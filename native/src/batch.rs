//! Building a decoded request (`Batch`, the protobuf decoder's `Decoded`) column by column,
//! for the JSON decoders: every column has one row per span, events and links one per entry.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::columns::{AttrCol, StrCol};

/// The protobuf decoder's columns: every native decoder fills the same struct.
pub type Batch = crate::otlp::Decoded;

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
            spans: 0,
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

    pub fn into_tuple(mut self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        self.spans = self.starts.len();
        crate::hand_over(py, self)
    }
}
