//! Columns handed to pyarrow through the Arrow C data interface: one `ArrowArray` tree (the
//! record batch as a struct array) in a PyCapsule named `arrow_array`, the buffers still
//! owned by Rust and freed by the tree's release callbacks. One import on the Python side,
//! where wrapping each buffer with `pa.Array.from_buffers` cost ~6 us a call, 40 a request.
//!
//! The layout is the Arrow columnar format's: no validity buffers (nothing is null), strings
//! as int32 offsets and UTF-8 bytes, maps and lists as int32 offsets over one child (a map's
//! child the struct of its keys and values). The schema is the importer's (`SPAN_SCHEMA`).
//! <https://arrow.apache.org/docs/format/CDataInterface.html>

use std::ffi::{c_void, CString};
use std::ptr::{null, null_mut};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::columns::{AttrCol, StrCol};

/// `struct ArrowArray` of the C data interface.
#[repr(C)]
pub struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

/// An exported array moves between threads only as a whole (the interface allows it: the
/// release callback may run on any thread).
#[repr(transparent)]
struct Exported(ArrowArray);

// SAFETY: the tree owns its buffers and children alone; nothing in it is tied to a thread.
unsafe impl Send for Exported {}

/// One buffer's bytes, typed as built.
pub enum Bytes {
    U8(Vec<u8>),
    I8(Vec<i8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Bytes {
    /// Gives back the capacity beyond the length: the decoder sizes its columns from the body
    /// and grows them by doubling, and a batch waits for the store up to seconds, so its slack
    /// would be held as long (glibc shrinks in place: no copy).
    fn shrunk(mut self) -> Bytes {
        match &mut self {
            Bytes::U8(v) => v.shrink_to_fit(),
            Bytes::I8(v) => v.shrink_to_fit(),
            Bytes::I32(v) => v.shrink_to_fit(),
            Bytes::I64(v) => v.shrink_to_fit(),
        }
        self
    }

    fn as_ptr(&self) -> *const c_void {
        match self {
            Bytes::U8(v) => v.as_ptr().cast(),
            Bytes::I8(v) => v.as_ptr().cast(),
            Bytes::I32(v) => v.as_ptr().cast(),
            Bytes::I64(v) => v.as_ptr().cast(),
        }
    }
}

type Buffer = Arc<Bytes>;

/// An array before export: its length, its buffers (None: no validity bitmap) and children.
pub struct Node {
    length: usize,
    buffers: Vec<Option<Buffer>>,
    children: Vec<Node>,
}

impl Node {
    /// A fixed-width column (int8, int64).
    pub fn primitive(length: usize, values: Bytes) -> Node {
        Node {
            length,
            buffers: vec![None, Some(Arc::new(values.shrunk()))],
            children: Vec::new(),
        }
    }

    pub fn string(column: StrCol) -> Node {
        let length = column.len();
        Node::strings(
            length,
            Arc::new(Bytes::I32(column.offsets).shrunk()),
            Bytes::U8(column.data),
        )
    }

    fn strings(length: usize, offsets: Buffer, data: Bytes) -> Node {
        Node {
            length,
            buffers: vec![None, Some(offsets), Some(Arc::new(data.shrunk()))],
            children: Vec::new(),
        }
    }

    /// A struct array of `children` (each `length` long).
    pub fn structure(length: usize, children: Vec<Node>) -> Node {
        Node {
            length,
            buffers: vec![None],
            children,
        }
    }

    /// A list array: `offsets` (`length + 1` of them) into `items`.
    pub fn list(length: usize, offsets: Vec<i32>, items: Node) -> Node {
        Node {
            length,
            buffers: vec![None, Some(Arc::new(Bytes::I32(offsets).shrunk()))],
            children: vec![items],
        }
    }

    /// An attribute column as (map<string, string>, its type codes as strings): the codes
    /// share the map's offsets, one code byte per entry.
    pub fn attributes(column: AttrCol) -> (Node, Node) {
        let rows = column.offsets.len() - 1;
        let entries = column.codes.len();
        let offsets = Arc::new(Bytes::I32(column.offsets).shrunk());
        let pairs = Node::structure(
            entries,
            vec![Node::string(column.keys), Node::string(column.texts)],
        );
        let map = Node {
            length: rows,
            buffers: vec![None, Some(offsets.clone())],
            children: vec![pairs],
        };
        (map, Node::strings(rows, offsets, Bytes::U8(column.codes)))
    }

    /// The tree in a PyCapsule named `arrow_array`; released with the capsule unless an
    /// importer took it.
    pub fn into_capsule(self, py: Python<'_>) -> PyResult<Bound<'_, PyCapsule>> {
        let name = CString::new("arrow_array").expect("no NUL");
        PyCapsule::new_with_destructor(py, Exported(export(self)), Some(name), |array, _| {
            let mut array = array.0;
            if let Some(release) = array.release {
                // SAFETY: not imported (an importer moves it out and clears `release`).
                unsafe { release(&mut array) };
            }
        })
    }
}

/// What one exported array owns: its buffers, their addresses, and its children.
struct Private {
    _owners: Vec<Option<Buffer>>,
    buffers: Vec<*const c_void>,
    children: Vec<*mut ArrowArray>,
}

fn export(node: Node) -> ArrowArray {
    let children: Vec<*mut ArrowArray> = node
        .children
        .into_iter()
        .map(|child| Box::into_raw(Box::new(export(child))))
        .collect();
    let buffers = node
        .buffers
        .iter()
        .map(|b| b.as_ref().map_or(null(), |b| b.as_ptr()))
        .collect();
    let mut private = Box::new(Private {
        _owners: node.buffers,
        buffers,
        children,
    });
    ArrowArray {
        length: node.length as i64,
        null_count: 0,
        offset: 0,
        n_buffers: private.buffers.len() as i64,
        n_children: private.children.len() as i64,
        buffers: private.buffers.as_mut_ptr(),
        children: private.children.as_mut_ptr(),
        dictionary: null_mut(),
        release: Some(release),
        private_data: Box::into_raw(private).cast(),
    }
}

/// Releases an exported array and the children still in it (an importer may have moved
/// some out, clearing their `release`).
unsafe extern "C" fn release(array: *mut ArrowArray) {
    // SAFETY: `array` is one `export` made, not yet released (the interface's contract).
    let array = unsafe { &mut *array };
    let private = unsafe { Box::from_raw(array.private_data.cast::<Private>()) };
    for &child in &private.children {
        // SAFETY: each child was boxed by `export` and is freed only here.
        unsafe {
            if let Some(release_child) = (*child).release {
                release_child(child);
            }
            drop(Box::from_raw(child));
        }
    }
    array.release = None;
}

/// The decoded columns as a `SPAN_SCHEMA` record batch (a struct array, fields in order).
pub fn span_batch(d: crate::otlp::Decoded) -> Node {
    let spans = d.spans;
    let (resources, resource_types) = Node::attributes(d.resources);
    let (attributes, attribute_types) = Node::attributes(d.attributes);
    let events = d.event_times.len();
    let (event_attributes, event_attribute_types) = Node::attributes(d.event_attributes);
    let event = Node::structure(
        events,
        vec![
            Node::primitive(events, Bytes::I64(d.event_times)),
            Node::string(d.event_names),
            event_attributes,
            event_attribute_types,
        ],
    );
    let links = d.link_trace_ids.len();
    let (link_attributes, link_attribute_types) = Node::attributes(d.link_attributes);
    let link = Node::structure(
        links,
        vec![
            Node::string(d.link_trace_ids),
            Node::string(d.link_span_ids),
            Node::string(d.link_states),
            link_attributes,
            link_attribute_types,
        ],
    );
    Node::structure(
        spans,
        vec![
            Node::primitive(spans, Bytes::I64(d.starts)),
            Node::string(d.trace_ids),
            Node::string(d.span_ids),
            Node::string(d.parent_ids),
            Node::string(d.trace_states),
            Node::string(d.names),
            Node::primitive(spans, Bytes::I8(d.kinds)),
            Node::string(d.services),
            resources,
            resource_types,
            Node::string(d.scope_names),
            Node::string(d.scope_versions),
            attributes,
            attribute_types,
            Node::primitive(spans, Bytes::I64(d.durations)),
            Node::primitive(spans, Bytes::I8(d.status_codes)),
            Node::string(d.status_messages),
            Node::list(spans, d.event_offsets, event),
            Node::list(spans, d.link_offsets, link),
        ],
    )
}
