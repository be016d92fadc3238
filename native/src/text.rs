//! Attribute values as the text `model.encode_value` gives them: Python's `repr` for a
//! double, JSON as orjson writes it for arrays and maps, standard base64 for bytes.

use base64::Engine as _;

use crate::wire::Any;

/// Python's `repr(float)`: the shortest digits that round-trip, in exponent form below 1e-4
/// and from 1e16 on (`1e-05`, `1e+16`), otherwise positional with at least one decimal.
pub fn push_py_float(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    // ryu writes Python's form wherever both write positional digits (1e-4 <= |x| < 1e16,
    // where ryu also stops at 1e-5): the common case, without the formatting machinery.
    let mut ryu_buffer = ryu::Buffer::new();
    let quick = ryu_buffer.format_finite(value);
    if !quick.contains('e') && !quick.trim_start_matches('-').starts_with("0.0000") {
        out.extend_from_slice(quick.as_bytes());
        return;
    }
    // `{:e}` without a precision gives the shortest round-trip digits: "-1.2345e-7".
    let formatted = format!("{value:e}");
    let (mantissa, exponent) = formatted
        .split_once('e')
        .expect("LowerExp writes an exponent");
    let exponent: i32 = exponent
        .parse()
        .expect("LowerExp writes a decimal exponent");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: Vec<u8> = mantissa.bytes().filter(|b| *b != b'.').collect();
    if negative {
        out.push(b'-');
    }
    if !(-4..16).contains(&exponent) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(magnitude.to_string().as_bytes());
    } else if exponent < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exponent - 1) as usize));
        out.extend_from_slice(&digits);
    } else {
        let point = exponent as usize + 1;
        if digits.len() > point {
            out.extend_from_slice(&digits[..point]);
            out.push(b'.');
            out.extend_from_slice(&digits[point..]);
        } else {
            out.extend_from_slice(&digits);
            out.extend(std::iter::repeat_n(b'0', point - digits.len()));
            out.extend_from_slice(b".0");
        }
    }
}

pub fn push_base64(out: &mut Vec<u8>, value: &[u8]) {
    let start = out.len();
    let size = base64::encoded_len(value.len(), true).expect("a body-sized value");
    out.resize(start + size, 0);
    base64::engine::general_purpose::STANDARD
        .encode_slice(value, &mut out[start..])
        .expect("sized above");
}

/// Decimal digits of `value` (no allocation: a few of these per span).
pub fn push_int(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string as orjson escapes it: `"`, `\`, and control characters only.
fn push_json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &byte) in text.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
}

/// An array or kvlist value as `orjson.dumps(_jsonable(_any_python(value)))`: empty values are
/// null, bytes base64 text, non-finite doubles their `repr` text, and a repeated map key
/// keeps its first position and its last value (a Python dict).
pub fn push_json(out: &mut Vec<u8>, value: &Any<'_>) {
    match value {
        Any::Empty | Any::StrIndex => out.extend_from_slice(b"null"),
        Any::Str(text) => push_json_string(out, text),
        Any::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
        Any::Int(number) => push_int(out, *number),
        Any::Double(number) => {
            if number.is_finite() {
                // ryu's digits; orjson signs a positive exponent (`1e+16`, `1.5e-7`).
                let mut buffer = ryu::Buffer::new();
                let text = buffer.format_finite(*number);
                match text.split_once('e') {
                    Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                        out.extend_from_slice(mantissa.as_bytes());
                        out.extend_from_slice(b"e+");
                        out.extend_from_slice(exponent.as_bytes());
                    }
                    _ => out.extend_from_slice(text.as_bytes()),
                }
            } else {
                out.push(b'"');
                push_py_float(out, *number);
                out.push(b'"');
            }
        }
        Any::Bytes(data) => {
            out.push(b'"');
            push_base64(out, data);
            out.push(b'"');
        }
        Any::Array(values) => {
            out.push(b'[');
            for (i, element) in values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json(out, element);
            }
            out.push(b']');
        }
        Any::KvList(entries) => {
            out.push(b'{');
            let mut first = true;
            for (i, (key, _)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(earlier, _)| earlier == key) {
                    continue; // written at its first position, with the last value
                }
                let last = entries
                    .iter()
                    .rev()
                    .find(|(k, _)| k == key)
                    .expect("itself");
                if !first {
                    out.push(b',');
                }
                first = false;
                push_json_string(out, key);
                out.push(b':');
                push_json(out, &last.1);
            }
            out.push(b'}');
        }
    }
}
