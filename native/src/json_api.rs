//! The JSON decoders' Python functions: decode with the GIL released, hand the columns over
//! as `batch::Batch` tuples. A body the native decoder leaves to the reference (see
//! `zipkin::Fallback`) raises `ValueError`, and the caller decodes it in Python.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::columns::Limits;
use crate::zipkin;

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
    let limits = Limits {
        max_spans,
        max_attributes,
        max_value_length,
        max_events,
        max_links,
    };
    let data: &[u8] = body.as_bytes();
    match py.detach(|| zipkin::decode_json(data, limits)) {
        Ok(Some(batch)) => batch.into_tuple(py).map(Some),
        Ok(None) => Ok(None),
        Err(zipkin::Fallback) => Err(PyValueError::new_err("left to the reference decoder")),
    }
}

/// The tags Zipkin JSON decoding moves to the resource (the Python decoder's set).
#[pyfunction]
pub fn zipkin_resource_keys() -> Vec<&'static str> {
    zipkin::RESOURCE_KEYS.to_vec()
}
