//! `take_entries`: rows of a chunked `list<struct<key: string, value: string>>` column (the
//! attribute maps as the stores take them) in a given order, gathered from the chunks
//! directly. pyarrow's take of a chunked list column concatenates its chunks first: for a
//! flush of 200k spans a ~60 MB copy held beside the sorted one, and Arrow's pool keeps its
//! peak resident. The result is sized exactly (a first pass counts entries and bytes).

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrow_c::Node;
use crate::columns::StrCol;

/// One chunk's buffers: list offsets, then offsets and bytes of the keys and of the values.
struct Chunk<'a> {
    rows: &'a [i32],
    key_offsets: &'a [i32],
    keys: &'a [u8],
    value_offsets: &'a [i32],
    values: &'a [u8],
}

/// A buffer-protocol view of bytes (pyarrow's buffers say `b`, signed; others `B`).
enum View {
    Unsigned(PyBuffer<u8>),
    Signed(PyBuffer<i8>),
}

impl View {
    fn get(object: &Bound<'_, PyAny>) -> PyResult<View> {
        match PyBuffer::<u8>::get(object) {
            Ok(view) => Ok(View::Unsigned(view)),
            Err(_) => Ok(View::Signed(PyBuffer::<i8>::get(object)?)),
        }
    }
}

fn bytes(view: &View) -> &[u8] {
    let (start, len) = match view {
        View::Unsigned(v) => (v.buf_ptr(), v.len_bytes()),
        View::Signed(v) => (v.buf_ptr(), v.len_bytes()),
    };
    if len == 0 {
        return &[];
    }
    // SAFETY: a contiguous (PyBuffer checks it) read-only view, kept alive by `view` (held by
    // the caller while the slice is used); nothing writes to an Arrow buffer.
    unsafe { std::slice::from_raw_parts(start.cast::<u8>(), len) }
}

fn offsets(buffer: &View) -> PyResult<&[i32]> {
    // SAFETY: any bit pattern is an i32; alignment is checked by `align_to`.
    let (head, body, tail) = unsafe { bytes(buffer).align_to::<i32>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(PyValueError::new_err("unaligned offsets"));
    }
    Ok(body)
}

/// The entries of rows `index` (global row numbers over the chunks, in output order) as one
/// `list<struct<key, value>>` array: (its `arrow_array` capsule, the address of the array).
/// Each chunk is (list offsets, key offsets, key bytes, value offsets, value bytes), with no
/// array offsets and no nulls (the caller checks). Raises `ValueError` for an index out of
/// range or offsets that do not fit their buffers.
#[pyfunction]
pub fn take_entries<'py>(
    py: Python<'py>,
    chunks: Vec<[Bound<'py, PyAny>; 5]>,
    index: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut views = Vec::with_capacity(chunks.len() * 5);
    for chunk in &chunks {
        for buffer in chunk {
            views.push(View::get(buffer)?);
        }
    }
    let index_view = View::get(index)?;
    let mut parts = Vec::with_capacity(chunks.len());
    for view in views.chunks(5) {
        let chunk = Chunk {
            rows: offsets(&view[0])?,
            key_offsets: offsets(&view[1])?,
            keys: bytes(&view[2]),
            value_offsets: offsets(&view[3])?,
            values: bytes(&view[4]),
        };
        check(&chunk)?;
        parts.push(chunk);
    }
    // SAFETY: as `offsets`, for u64.
    let (head, rows, tail) = unsafe { bytes(&index_view).align_to::<u64>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(PyValueError::new_err("unaligned index"));
    }
    let node = py
        .detach(|| gather(&parts, rows))
        .map_err(PyValueError::new_err)?;
    let capsule = node.into_capsule(py)?;
    let address = capsule.pointer_checked(Some(c"arrow_array"))?.as_ptr() as usize;
    PyTuple::new(
        py,
        [capsule.into_any(), address.into_pyobject(py)?.into_any()],
    )
}

/// Offsets that stay inside their buffers and never decrease: then every slice below is
/// in bounds.
fn check(chunk: &Chunk<'_>) -> PyResult<()> {
    let bad = |what: &str| Err(PyValueError::new_err(format!("bad {what} offsets")));
    let ascending = |o: &[i32], len: usize| {
        !o.is_empty()
            && o[0] >= 0
            && o.windows(2).all(|w| w[0] <= w[1])
            && o[o.len() - 1] as usize <= len
    };
    let entries = chunk.key_offsets.len().saturating_sub(1);
    if !ascending(chunk.rows, entries) || chunk.value_offsets.len() != chunk.key_offsets.len() {
        return bad("list");
    }
    if !ascending(chunk.key_offsets, chunk.keys.len()) {
        return bad("key");
    }
    if !ascending(chunk.value_offsets, chunk.values.len()) {
        return bad("value");
    }
    Ok(())
}

fn gather(chunks: &[Chunk<'_>], index: &[u64]) -> Result<Node, String> {
    // Row number -> (chunk, row in it): the first row of each chunk, then a binary search.
    let mut starts = Vec::with_capacity(chunks.len() + 1);
    starts.push(0u64);
    for chunk in chunks {
        let last = *starts.last().expect("pushed");
        starts.push(last + (chunk.rows.len() as u64).saturating_sub(1));
    }
    let total = *starts.last().expect("pushed");
    let locate = |row: u64| -> Result<(&Chunk<'_>, usize), String> {
        if row >= total {
            return Err(format!("index {row} out of range for {total} rows"));
        }
        let at = starts.partition_point(|&start| start <= row) - 1;
        Ok((&chunks[at], (row - starts[at]) as usize))
    };
    // First pass: exact sizes.
    let (mut entries, mut key_bytes, mut value_bytes) = (0usize, 0usize, 0usize);
    for &row in index {
        let (chunk, at) = locate(row)?;
        let (first, end) = (chunk.rows[at] as usize, chunk.rows[at + 1] as usize);
        entries += end - first;
        key_bytes += (chunk.key_offsets[end] - chunk.key_offsets[first]) as usize;
        value_bytes += (chunk.value_offsets[end] - chunk.value_offsets[first]) as usize;
    }
    if entries > i32::MAX as usize
        || key_bytes > i32::MAX as usize
        || value_bytes > i32::MAX as usize
    {
        return Err("too large for 32-bit offsets".into());
    }
    let mut rows = Vec::with_capacity(index.len() + 1);
    rows.push(0i32);
    let mut keys = StrCol::with_capacity(entries, key_bytes);
    let mut values = StrCol::with_capacity(entries, value_bytes);
    for &row in index {
        let (chunk, at) = locate(row)?;
        let (first, end) = (chunk.rows[at] as usize, chunk.rows[at + 1] as usize);
        keys.extend_rows_from(chunk.key_offsets, chunk.keys, first, end);
        values.extend_rows_from(chunk.value_offsets, chunk.values, first, end);
        rows.push(keys.len() as i32);
    }
    let pairs = Node::structure(entries, vec![Node::string(keys), Node::string(values)]);
    Ok(Node::list(index.len(), rows, pairs))
}
