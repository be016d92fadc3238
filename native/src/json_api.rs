//! The JSON decoders' Python functions: decode with the GIL released, hand the columns over
//! as the protobuf decoder does (`hand_over`). A body the native decoder leaves to the
//! reference (see `zipkin::Fallback`) raises `ValueError`, and the caller decodes it in Python.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::columns::Limits;
use crate::otlp::Decoded;
use crate::{otlp, otlp_json, zipkin};

/// `decode()`, or None if it panicked: a bug here must cost speed (the reference decodes the
/// body), never the request.
fn guarded<T>(decode: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).ok()
}

/// `decode` on the body with the GIL released, its columns handed over; a body it leaves to
/// the reference (None, or a panic) raises `ValueError`.
fn decode_body<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    decode: impl FnOnce(&[u8]) -> Option<Option<Decoded>> + Send,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let data: &[u8] = body.as_bytes();
    match py.detach(|| guarded(|| decode(data)).flatten()) {
        Some(Some(batch)) => batch.into_tuple(py).map(Some),
        Some(None) => Ok(None),
        None => Err(PyValueError::new_err("left to the reference decoder")),
    }
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`; None for a request without spans.
#[pyfunction]
pub fn decode_otlp_json<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    limits: Limits,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    decode_body(py, body, |data| {
        let request = otlp_json::to_proto(data, &limits).ok()?;
        otlp::decode(&request, limits).ok()
    })
}

/// Decodes a Zipkin v2 JSON body; None for an empty list.
#[pyfunction]
pub fn decode_zipkin_json<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    limits: Limits,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    decode_body(py, body, |data| zipkin::decode_json(data, limits).ok())
}

/// The tags Zipkin JSON decoding moves to the resource (the Python decoder's set).
#[pyfunction]
pub fn zipkin_resource_keys() -> Vec<&'static str> {
    zipkin::RESOURCE_KEYS.to_vec()
}
