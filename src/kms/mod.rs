//! The KMS layer: managed keys, envelope encryption, lifecycle (DESIGN §4).
pub mod abi;
pub mod envelope;
