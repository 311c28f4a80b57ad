//! Diagnostics (to be written).
