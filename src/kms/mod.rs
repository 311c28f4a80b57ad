//! The KMS layer: managed keys with versions and rotation, lifecycle states,
//! scheduled deletion, imported material that expires, and the envelope format
//! (DESIGN §4; `docs/kms.md`, `docs/envelope-format.md`, `docs/vendor-abi.md`).

pub(crate) mod aliases;
pub(crate) mod audit;
pub mod envelope;
pub(crate) mod lifecycle;
pub(crate) mod meta;
pub mod policy;
pub(crate) mod principals;
pub mod versions;
