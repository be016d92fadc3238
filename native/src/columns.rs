//! Arrow-layout buffers: string columns (int32 offsets + UTF-8 data) and attribute-map
//! columns (per-row offsets, key and value-text strings, one type-code byte per entry), with
//! the limits and marker attributes of `codec/otlp/columns.py` applied per row.

use crate::text::{push_base64, push_int, push_json, push_py_float};
use crate::wire::{key_value, simple_key_value, Any, Result};

pub const TRUNCATED_KEY: &[u8] = b"breadcrumbs.truncated";
pub const DROPPED_ATTRIBUTES_KEY: &[u8] = b"breadcrumbs.dropped_attributes";
pub const DROPPED_EVENTS_KEY: &[u8] = b"breadcrumbs.dropped_events";
pub const DROPPED_LINKS_KEY: &[u8] = b"breadcrumbs.dropped_links";

/// Read from the Python `DecodeLimits` by attribute name.
#[derive(Clone, Copy, pyo3::FromPyObject)]
pub struct Limits {
    pub max_spans: usize,
    pub max_attributes: usize,
    pub max_value_length: usize,
    pub max_events: usize,
    pub max_links: usize,
}

/// A string column: `offsets` has one more entry than there are rows.
pub struct StrCol {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
}

impl StrCol {
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        StrCol {
            offsets,
            data: Vec::with_capacity(bytes),
        }
    }

    pub fn push(&mut self, value: &[u8]) {
        self.data.extend_from_slice(value);
        self.end_row();
    }

    /// Lowercase hex of a byte id.
    #[inline]
    pub fn push_hex(&mut self, value: &[u8]) {
        // Both digits of a byte from one table lookup.
        const PAIRS: [[u8; 2]; 256] = {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut pairs = [[0u8; 2]; 256];
            let mut i = 0;
            while i < 256 {
                pairs[i] = [HEX[i >> 4], HEX[i & 15]];
                i += 1;
            }
            pairs
        };
        self.data.reserve(2 * value.len());
        for &byte in value {
            self.data.extend_from_slice(&PAIRS[usize::from(byte)]);
        }
        self.end_row();
    }

    /// The rows at `index`, in order (a resource's or scope's value for each span).
    #[allow(dead_code)] // kept for the other decoders
    pub fn take(&self, index: &[i32]) -> StrCol {
        let size = index.iter().map(|&i| self.get(i as usize).len()).sum();
        let mut column = StrCol::with_capacity(index.len(), size);
        for &i in index {
            column.push(self.get(i as usize));
        }
        column
    }

    /// `value` as the next `times` rows (a resource's or scope's value for each of its spans).
    pub fn push_repeated(&mut self, value: &[u8], times: usize) {
        self.data.reserve(value.len() * times);
        self.offsets.reserve(times);
        for _ in 0..times {
            self.push(value);
        }
    }

    /// Closes a row whose bytes were written to `data` directly.
    pub fn end_row(&mut self) {
        self.offsets.push(self.data.len() as i32);
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn get(&self, row: usize) -> &[u8] {
        &self.data[self.offsets[row] as usize..self.offsets[row + 1] as usize]
    }

    /// Rows `start..end` of `other`, appended: one copy of their bytes, offsets shifted.
    pub fn extend_rows(&mut self, other: &StrCol, start: usize, end: usize) {
        self.extend_rows_from(&other.offsets, &other.data, start, end);
    }

    /// Rows `start..end` of the string column (`offsets`, `data`), appended.
    pub fn extend_rows_from(&mut self, offsets: &[i32], data: &[u8], start: usize, end: usize) {
        let (from, to) = (offsets[start], offsets[end]);
        let shift = self.data.len() as i32 - from;
        self.data
            .extend_from_slice(&data[from as usize..to as usize]);
        self.offsets
            .extend(offsets[start + 1..=end].iter().map(|o| o + shift));
    }

    fn truncate(&mut self, rows: usize) {
        self.offsets.truncate(rows + 1);
        self.data.truncate(self.offsets[rows] as usize);
    }
}

/// Raw `KeyValue` bytes per row as a walk finds them (for decoders that collect a request
/// before building columns; the protobuf walk offers each attribute to its row directly), plus our marker attributes (count
/// markers added by the walk, in row order).
#[allow(dead_code)]
pub struct Rows<'a> {
    pub raws: Vec<&'a [u8]>,
    pub offsets: Vec<usize>,
    pub markers: Vec<(usize, &'static [u8], u64)>,
}

#[allow(dead_code)]
impl<'a> Rows<'a> {
    pub fn new() -> Self {
        Rows {
            raws: Vec::new(),
            offsets: vec![0],
            markers: Vec::new(),
        }
    }

    pub fn end_row(&mut self) {
        self.offsets.push(self.raws.len());
    }

    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn mark(&mut self, row: usize, key: &'static [u8], count: u64) {
        self.markers.push((row, key, count));
    }
}

/// An attribute-map column and its type codes (the codes share the map's offsets).
pub struct AttrCol {
    pub offsets: Vec<i32>,
    pub keys: StrCol,
    pub texts: StrCol,
    pub codes: Vec<u8>,
}

/// The row an `AttrCol` is filling: where it starts, how many attributes it was offered and how
/// many values were cut.
pub struct OpenRow {
    first: usize,
    offered: usize,
    cut: u64,
}

impl AttrCol {
    /// An empty column sized for `rows` rows of `entries` attributes and `bytes` of text.
    pub fn with_capacity(rows: usize, entries: usize, bytes: usize) -> AttrCol {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        AttrCol {
            offsets,
            keys: StrCol::with_capacity(entries, bytes / 2),
            texts: StrCol::with_capacity(entries, bytes / 2),
            codes: Vec::with_capacity(entries),
        }
    }

    /// The column of `rows`: each row's first `max_attributes` attributes decoded, cut to
    /// `max_value_length` characters (strings, bytes, arrays and maps only, which become
    /// strings), then the markers: dropped attributes, the walk's, values cut; a repeated key
    /// keeps its first position and its last value.
    #[allow(dead_code)]
    pub fn build(rows: &Rows<'_>, limits: &Limits) -> Result<AttrCol> {
        let entries = rows.raws.len() + rows.markers.len();
        let mut column = AttrCol::with_capacity(rows.rows(), entries, entries * 32);
        let mut markers = rows.markers.iter().peekable();
        let mut walk_markers = Vec::new();
        for (row, window) in rows.offsets.windows(2).enumerate() {
            let mut open = column.open_row();
            for raw in &rows.raws[window[0]..window[1]] {
                column.offer(&mut open, raw, limits)?;
            }
            walk_markers.clear();
            while let Some((_, key, count)) = markers.next_if(|(r, _, _)| *r == row) {
                walk_markers.push((*key, *count));
            }
            column.close_row(open, limits, &walk_markers);
        }
        Ok(column)
    }

    /// Starts a row: `offer` it attributes, then `close_row` it.
    pub fn open_row(&self) -> OpenRow {
        OpenRow {
            first: self.codes.len(),
            offered: 0,
            cut: 0,
        }
    }

    /// Offers the row one raw `KeyValue`: decoded and added if the row holds fewer than
    /// `max_attributes`, else only counted. An error adds nothing.
    #[inline]
    pub fn offer(&mut self, row: &mut OpenRow, raw: &[u8], limits: &Limits) -> Result<()> {
        row.offered += 1;
        if row.offered <= limits.max_attributes {
            row.cut += u64::from(self.push_raw(raw, limits.max_value_length)?);
        }
        Ok(())
    }

    /// Ends the row with its markers: dropped attributes, then `markers` (the walk's counts:
    /// dropped events, dropped links), then values cut; a repeated key keeps its first
    /// position and its last value.
    pub fn close_row(&mut self, row: OpenRow, limits: &Limits, markers: &[(&[u8], u64)]) {
        if row.offered > limits.max_attributes {
            self.push_marker(
                DROPPED_ATTRIBUTES_KEY,
                (row.offered - limits.max_attributes) as u64,
            );
        }
        for (key, count) in markers {
            self.push_marker(key, *count);
        }
        if row.cut > 0 {
            self.push_marker(TRUNCATED_KEY, row.cut);
        }
        if self.codes.len() - row.first > 1 && self.has_duplicate_keys(row.first) {
            self.dedupe(row.first);
        }
        self.offsets.push(self.codes.len() as i32);
    }

    /// Empties the column for reuse (its allocations stay).
    pub fn clear(&mut self) {
        self.offsets.truncate(1);
        self.keys.truncate(0);
        self.texts.truncate(0);
        self.codes.clear();
    }

    /// Row `row` of `other` as the next `times` rows (a resource's attributes for each of its
    /// spans): whole runs of bytes copied, offsets shifted.
    pub fn push_repeated(&mut self, other: &AttrCol, row: usize, times: usize) {
        let (start, end) = (other.offsets[row] as usize, other.offsets[row + 1] as usize);
        let codes = &other.codes[start..end];
        self.codes.reserve(codes.len() * times);
        self.offsets.reserve(times);
        for _ in 0..times {
            self.keys.extend_rows(&other.keys, start, end);
            self.texts.extend_rows(&other.texts, start, end);
            self.codes.extend_from_slice(codes);
            self.offsets.push(self.codes.len() as i32);
        }
    }

    /// Decodes one raw `KeyValue`; true if its value was cut.
    fn push_raw(&mut self, raw: &[u8], max_length: usize) -> Result<bool> {
        let (key, value) = match simple_key_value(raw) {
            Some(pair) => pair,
            None => key_value(raw, 0)?,
        };
        self.keys.push(key);
        let text = &mut self.texts.data;
        let start = text.len();
        let code = match &value {
            Any::Str(s) => {
                text.extend_from_slice(s);
                b's'
            }
            Any::Int(number) => {
                push_int(text, *number);
                b'i'
            }
            Any::Double(number) => {
                push_py_float(text, *number);
                b'd'
            }
            Any::Bool(flag) => {
                text.extend_from_slice(if *flag { b"true" } else { b"false" });
                b'b'
            }
            Any::Bytes(data) => {
                push_base64(text, data);
                b'y'
            }
            Any::Array(_) => {
                push_json(text, &value);
                b'a'
            }
            Any::KvList(_) => {
                push_json(text, &value);
                b'm'
            }
            Any::Empty | Any::StrIndex => b's',
        };
        let cut = matches!(code, b's' | b'y' | b'a' | b'm')
            && text.len() - start > max_length
            && cut_chars(text, start, max_length);
        self.texts.end_row();
        self.codes.push(if cut { b's' } else { code });
        Ok(cut)
    }

    fn push_marker(&mut self, key: &[u8], count: u64) {
        self.keys.push(key);
        // Counts are ints: never cut. (A request cannot hold 2**63 of anything.)
        push_int(&mut self.texts.data, count as i64);
        self.texts.end_row();
        self.codes.push(b'i');
    }

    /// The rows at `index`, in order (each span's resource attributes).
    #[allow(dead_code)]
    pub fn take(&self, index: &[i32]) -> AttrCol {
        let mut entries = 0;
        for &i in index {
            entries += (self.offsets[i as usize + 1] - self.offsets[i as usize]) as usize;
        }
        let mut column = AttrCol {
            offsets: Vec::with_capacity(index.len() + 1),
            keys: StrCol::with_capacity(entries, 0),
            texts: StrCol::with_capacity(entries, 0),
            codes: Vec::with_capacity(entries),
        };
        column.offsets.push(0);
        for &i in index {
            let (start, end) = (
                self.offsets[i as usize] as usize,
                self.offsets[i as usize + 1] as usize,
            );
            for entry in start..end {
                column.keys.push(self.keys.get(entry));
                column.texts.push(self.texts.get(entry));
            }
            column.codes.extend_from_slice(&self.codes[start..end]);
            column.offsets.push(column.codes.len() as i32);
        }
        column
    }

    fn has_duplicate_keys(&self, first: usize) -> bool {
        let end = self.codes.len();
        let keys = &self.keys;
        if end - first <= 32 {
            // Lengths first (two offsets each): bytes only compared for keys of equal length.
            let len = |i: usize| keys.offsets[i + 1] - keys.offsets[i];
            return (first + 1..end)
                .any(|i| (first..i).any(|j| len(i) == len(j) && keys.get(i) == keys.get(j)));
        }
        let mut seen = std::collections::HashSet::with_capacity(end - first);
        !(first..end).all(|i| seen.insert(keys.get(i)))
    }

    /// Rewrites the entries from `first` on: each key once, at its first position, with its
    /// last value (rare path).
    fn dedupe(&mut self, first: usize) {
        let end = self.codes.len();
        let mut order: Vec<(Vec<u8>, Vec<u8>, u8)> = Vec::new();
        for i in first..end {
            let key = self.keys.get(i);
            let entry = (self.texts.get(i).to_vec(), self.codes[i]);
            match order.iter_mut().find(|(k, _, _)| k.as_slice() == key) {
                Some(existing) => (existing.1, existing.2) = entry,
                None => order.push((key.to_vec(), entry.0, entry.1)),
            }
        }
        self.keys.truncate(first);
        self.texts.truncate(first);
        self.codes.truncate(first);
        for (key, text, code) in order {
            self.keys.push(&key);
            self.texts.push(&text);
            self.codes.push(code);
        }
    }
}

/// Cuts the text written from `start` to `max_chars` characters; false if it was not longer.
fn cut_chars(text: &mut Vec<u8>, start: usize, max_chars: usize) -> bool {
    let value = &text[start..];
    // A UTF-8 character starts at every byte that is not a continuation byte (0b10xxxxxx).
    let mut seen = 0;
    for (i, &byte) in value.iter().enumerate() {
        if byte & 0xC0 != 0x80 {
            if seen == max_chars {
                text.truncate(start + i);
                return true;
            }
            seen += 1;
        }
    }
    false
}
