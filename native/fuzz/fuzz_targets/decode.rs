//! Any bytes through the OTLP protobuf decoder, under the default limits and under small ones
//! picked from the input: no panic, no undefined behaviour (run with the address sanitizer),
//! and every column it hands to pyarrow well formed (pyarrow wraps them without checking).
#![no_main]
#![allow(dead_code)] // the extension's helpers this target does not call

#[path = "../../src/columns.rs"]
mod columns;
#[path = "../../src/otlp.rs"]
mod otlp;
#[path = "../../src/text.rs"]
mod text;
#[path = "../../src/wire.rs"]
mod wire;

use columns::{AttrCol, Limits, StrCol};
use libfuzzer_sys::fuzz_target;

const DEFAULT: Limits = Limits {
    max_spans: 100_000,
    max_attributes: 128,
    max_value_length: 16_384,
    max_events: 256,
    max_links: 128,
};

fuzz_target!(|body: &[u8]| {
    check(body, DEFAULT);
    // Small limits from the body's length, so the cuts, drops and markers run too.
    let n = body.len();
    let small = Limits {
        max_spans: 1 + n % 7,
        max_attributes: n % 5,
        max_value_length: n % 13,
        max_events: n % 4,
        max_links: n % 3,
    };
    check(body, small);
});

fn check(body: &[u8], limits: Limits) {
    let decoded = match otlp::decode(body, limits) {
        Ok(Some(decoded)) => decoded,
        Ok(None) => return,
        Err(failure) => {
            assert!(!failure.message(&limits).is_empty());
            return;
        }
    };
    let spans = decoded.spans;
    assert!(spans > 0 && spans <= limits.max_spans);
    for column in [
        &decoded.trace_ids,
        &decoded.span_ids,
        &decoded.parent_ids,
        &decoded.trace_states,
        &decoded.names,
        &decoded.services,
        &decoded.scope_names,
        &decoded.scope_versions,
        &decoded.status_messages,
    ] {
        strings(column, spans);
    }
    for column in [&decoded.resources, &decoded.attributes] {
        attributes(column, spans);
    }
    for values in [&decoded.starts, &decoded.durations] {
        assert_eq!(values.len(), spans);
    }
    assert_eq!(decoded.kinds.len(), spans);
    assert_eq!(decoded.status_codes.len(), spans);
    let events = offsets(&decoded.event_offsets, spans, decoded.event_times.len());
    strings(&decoded.event_names, events);
    attributes(&decoded.event_attributes, events);
    let links = offsets(&decoded.link_offsets, spans, decoded.link_trace_ids.len());
    for column in [
        &decoded.link_trace_ids,
        &decoded.link_span_ids,
        &decoded.link_states,
    ] {
        strings(column, links);
    }
    attributes(&decoded.link_attributes, links);
    match &decoded.keep {
        Some(keep) => {
            assert_eq!(keep.len(), spans);
            let rejected = keep.iter().filter(|k| **k == 0).count();
            assert_eq!(rejected, decoded.rejected);
            assert!(rejected > 0 && decoded.error.starts_with("rejected "));
        }
        None => assert!(decoded.rejected == 0 && decoded.error.is_empty()),
    }
}

/// Offsets from 0, never decreasing, `rows + 1` of them, ending at `len`; returns `len`.
fn offsets(offsets: &[i32], rows: usize, len: usize) -> usize {
    assert_eq!(offsets.len(), rows + 1);
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(offsets[rows] as usize, len);
    len
}

/// A string column of `rows` rows: offsets as Arrow wants them, every value UTF-8.
fn strings(column: &StrCol, rows: usize) {
    offsets(&column.offsets, rows, column.data.len());
    for row in 0..rows {
        assert!(std::str::from_utf8(column.get(row)).is_ok());
    }
}

/// An attribute column of `rows` maps: entries, keys, texts and type codes agree.
fn attributes(column: &AttrCol, rows: usize) {
    let entries = offsets(&column.offsets, rows, column.codes.len());
    strings(&column.keys, entries);
    strings(&column.texts, entries);
    assert!(column.codes.iter().all(|c| b"sidbyam".contains(c)));
}
