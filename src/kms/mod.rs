//! The KMS layer: managed keys with versions and rotation, lifecycle states,
//! scheduled deletion, imported material that expires, and the envelope format
//! (DESIGN §4; `docs/kms.md`, `docs/envelope-format.md`, `docs/vendor-abi.md`).

pub mod audit;
pub mod envelope;
pub mod lifecycle;
pub mod policy;
pub mod principals;
pub mod versions;
