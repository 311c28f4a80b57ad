//! The values of `include/softkms.h` (the SoftKMS vendor ABI,
//! `docs/vendor-abi.md`): the `softkms-abi` crate, checked against the header
//! by its own test.

pub use softkms_abi::*;
