//! Token store (to be written).
