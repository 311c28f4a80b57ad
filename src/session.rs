//! Sessions (to be written).
