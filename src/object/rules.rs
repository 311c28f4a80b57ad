//! Object rules (to be written).
