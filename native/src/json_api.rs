//! The JSON decoders' Python functions: decode with the GIL released, hand the columns over
//! as the protobuf decoder does (`hand_over`). A body the native decoder leaves to the
//! reference (see `zipkin::Fallback`) raises `ValueError`, and the caller decodes it in Python.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::columns::Limits;
use crate::{otlp, otlp_json, zipkin};

fn limits(
    max_spans: usize,
    max_attributes: usize,
    max_value_length: usize,
    max_events: usize,
    max_links: usize,
) -> Limits {
    Limits {
        max_spans,
        max_attributes,
        max_value_length,
        max_events,
        max_links,
    }
}

/// `decode()`, or None if it panicked: a bug here must cost speed (the reference decodes the
/// body), never the request.
fn guarded<T>(decode: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).ok()
}

fn fallback() -> PyErr {
    PyValueError::new_err("left to the reference decoder")
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`; None for a request without spans.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn decode_otlp_json<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    max_spans: usize,
    max_attributes: usize,
    max_value_length: usize,
    max_events: usize,
    max_links: usize,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let limits = limits(
        max_spans,
        max_attributes,
        max_value_length,
        max_events,
        max_links,
    );
    let data: &[u8] = body.as_bytes();
    let decoded = py.detach(|| {
        guarded(|| {
            let request = otlp_json::to_proto(data, &limits).ok()?;
            otlp::decode(&request, limits).ok()
        })
        .flatten()
    });
    match decoded {
        Some(Some(batch)) => batch.into_tuple(py).map(Some),
        Some(None) => Ok(None),
        None => Err(fallback()),
    }
}

/// Decodes a Zipkin v2 JSON body; None for an empty list.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn decode_zipkin_json<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    max_spans: usize,
    max_attributes: usize,
    max_value_length: usize,
    max_events: usize,
    max_links: usize,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let limits = limits(
        max_spans,
        max_attributes,
        max_value_length,
        max_events,
        max_links,
    );
    let data: &[u8] = body.as_bytes();
    match py.detach(|| guarded(|| zipkin::decode_json(data, limits).ok()).flatten()) {
        Some(Some(batch)) => batch.into_tuple(py).map(Some),
        Some(None) => Ok(None),
        None => Err(fallback()),
    }
}

/// The tags Zipkin JSON decoding moves to the resource (the Python decoder's set).
#[pyfunction]
pub fn zipkin_resource_keys() -> Vec<&'static str> {
    zipkin::RESOURCE_KEYS.to_vec()
}
