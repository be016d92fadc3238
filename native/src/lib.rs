//! `breadcrumbs._native`: the OTLP protobuf decoder in Rust.
//!
//! `decode_otlp_proto(body, limits...)` decodes with the GIL released and returns the span
//! columns as one Arrow C data interface array (`arrow_c`: a `SPAN_SCHEMA` record batch that
//! pyarrow imports without a copy) with the rejected spans; `codec/otlp/native.py` imports
//! it. Decoding errors raise `ValueError` with the Python decoder's message. The JSON
//! decoders (`json_api`) hand their columns over the same way (`hand_over`).

mod arrow_c;
mod batch;
mod columns;
mod json;
mod json_api;
mod otlp;
mod otlp_json;
mod take;
mod text;
mod wire;
mod zipkin;

use std::os::raw::c_int;

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsuleMethods, PyTuple};

use columns::Limits;

/// Read-only bytes shared with pyarrow through the buffer protocol (the keep mask).
#[pyclass(frozen, module = "breadcrumbs._native")]
struct Buffer {
    data: Vec<u8>,
}

#[pymethods]
impl Buffer {
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("no view"));
        }
        let data = slf.get().data.as_slice();
        // A one-dimensional read-only byte view holding a reference to `slf`: the data cannot
        // move or change while a view exists (the class is frozen).
        let filled = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                data.as_ptr() as *mut std::ffi::c_void,
                data.len() as ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if filled == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.data.len()
    }
}

fn buffer(py: Python<'_>, data: Vec<u8>) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, Buffer { data })?.into_any())
}

/// Decodes a serialized `ExportTraceServiceRequest`: None for a request without spans, else
/// (spans, `arrow_array` capsule of the `SPAN_SCHEMA` batch, the address of its `ArrowArray`
/// (for importers given the schema as an object: exporting and parsing it per request costs
/// ~70 us), keep mask or None, rejected, error).
#[pyfunction]
fn decode_otlp_proto<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    limits: Limits,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let data: &[u8] = body.as_bytes();
    let decoded = py
        .detach(|| otlp::decode(data, limits))
        .map_err(|failure| PyValueError::new_err(failure.message(&limits)))?;
    match decoded {
        Some(d) => hand_over(py, d).map(Some),
        None => Ok(None),
    }
}

/// A decoded request as the tuple `codec/otlp/native.py` imports (every native decoder's
/// layout): (spans, the Arrow array's capsule, its address, keep mask or None, rejected,
/// error).
pub(crate) fn hand_over<'py>(
    py: Python<'py>,
    mut d: otlp::Decoded,
) -> PyResult<Bound<'py, PyTuple>> {
    let keep = match d.keep.take() {
        Some(keep) => buffer(py, keep)?,
        None => py.None().into_bound(py),
    };
    let (spans, rejected, error) = (d.spans, d.rejected, std::mem::take(&mut d.error));
    let batch = arrow_c::span_batch(d).into_capsule(py)?;
    let address = batch.pointer_checked(Some(c"arrow_array"))?.as_ptr() as usize;
    let items: Vec<Bound<'py, PyAny>> = vec![
        spans.into_pyobject(py)?.into_any(),
        batch.into_any(),
        address.into_pyobject(py)?.into_any(),
        keep,
        rejected.into_pyobject(py)?.into_any(),
        error.into_pyobject(py)?.into_any(),
    ];
    PyTuple::new(py, items)
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Buffer>()?;
    module.add_function(wrap_pyfunction!(decode_otlp_proto, module)?)?;
    module.add_function(wrap_pyfunction!(json_api::decode_otlp_json, module)?)?;
    module.add_function(wrap_pyfunction!(json_api::decode_zipkin_json, module)?)?;
    module.add_function(wrap_pyfunction!(json_api::zipkin_resource_keys, module)?)?;
    module.add_function(wrap_pyfunction!(take::take_entries, module)?)?;
    Ok(())
}
