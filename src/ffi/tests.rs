//! Tests of the C ABI.
