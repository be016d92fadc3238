//! `breadcrumbs._native`: the OTLP protobuf decoder in Rust.
//!
//! `decode_otlp_proto(body, limits...)` decodes with the GIL released and returns the span
//! columns as one Arrow C data interface array (`arrow_c`: a `SPAN_SCHEMA` record batch that
//! pyarrow imports without a copy) with the rejected spans; `codec/otlp/native.py` imports
//! it. Decoding errors raise `ValueError` with the Python decoder's message.
//! (`Buffer`, `string_column` and `attribute_column` hand columns over as buffer-protocol
//! tuples instead: ~6 us of pyarrow per buffer on the Python side.)

mod arrow_c;
mod columns;
mod otlp;
mod text;
mod wire;

use std::os::raw::c_int;

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsuleMethods, PyTuple};

use columns::{AttrCol, Limits, StrCol};

/// Column data owned by Rust, typed as built (no copy to bytes).
#[allow(dead_code)] // the typed variants serve the tuple hand-over
enum Data {
    U8(Vec<u8>),
    I8(Vec<i8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Data {
    fn as_bytes(&self) -> &[u8] {
        fn raw<T>(values: &[T]) -> &[u8] {
            // SAFETY: plain integers, initialised; read as their (little-endian) bytes.
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values)) }
        }
        match self {
            Data::U8(v) => v,
            Data::I8(v) => raw(v),
            Data::I32(v) => raw(v),
            Data::I64(v) => raw(v),
        }
    }
}

/// Read-only bytes shared with pyarrow through the buffer protocol.
#[pyclass(frozen, module = "breadcrumbs._native")]
struct Buffer {
    data: Data,
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
        let data = slf.get().data.as_bytes();
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
        self.data.as_bytes().len()
    }
}

fn buffer(py: Python<'_>, data: Data) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, Buffer { data })?.into_any())
}

/// A string column as (rows, offsets, data).
#[allow(dead_code)]
fn string_column(py: Python<'_>, column: StrCol) -> PyResult<Bound<'_, PyTuple>> {
    let rows = column.len();
    PyTuple::new(
        py,
        [
            rows.into_pyobject(py)?.into_any(),
            buffer(py, Data::I32(column.offsets))?,
            buffer(py, Data::U8(column.data))?,
        ],
    )
}

/// An attribute column as (rows, offsets, keys, texts, codes).
#[allow(dead_code)]
fn attribute_column(py: Python<'_>, column: AttrCol) -> PyResult<Bound<'_, PyTuple>> {
    let rows = column.offsets.len() - 1;
    PyTuple::new(
        py,
        [
            rows.into_pyobject(py)?.into_any(),
            buffer(py, Data::I32(column.offsets))?,
            string_column(py, column.keys)?.into_any(),
            string_column(py, column.texts)?.into_any(),
            buffer(py, Data::U8(column.codes))?,
        ],
    )
}

/// Decodes a serialized `ExportTraceServiceRequest`: None for a request without spans, else
/// (spans, `arrow_array` capsule of the `SPAN_SCHEMA` batch, the address of its `ArrowArray`
/// (for importers given the schema as an object: exporting and parsing it per request costs
/// ~70 us), keep mask or None, rejected, error).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn decode_otlp_proto<'py>(
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
    let decoded = py
        .detach(|| otlp::decode(data, limits))
        .map_err(|failure| PyValueError::new_err(failure.message(&limits)))?;
    let Some(mut d) = decoded else {
        return Ok(None);
    };
    let keep = match d.keep.take() {
        Some(keep) => buffer(py, Data::U8(keep))?,
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
    Ok(Some(PyTuple::new(py, items)?))
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Buffer>()?;
    module.add_function(wrap_pyfunction!(decode_otlp_proto, module)?)?;
    Ok(())
}
