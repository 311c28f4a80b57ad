//! The cases of the chapters other than the mechanisms (see `mechs/`).

pub mod general;
pub mod more;
pub mod objects;
pub mod sessions;
pub mod slots;
pub mod wrap;
