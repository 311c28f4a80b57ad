//! Helpers of the crypto layer's known-answer tests: hex strings and the
//! vector files of `tests/vectors/`.

#![allow(clippy::unwrap_used)]

/// Bytes of a hex string (the vectors are well-formed).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The `tests` array of an ACVP JSON file of `tests/vectors/`.
pub(crate) fn acvp_tests(name: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["tests"].as_array().unwrap().clone()
}

/// A hex field of an ACVP test case.
pub(crate) fn field(t: &serde_json::Value, name: &str) -> Vec<u8> {
    hex(t[name].as_str().unwrap())
}
