//! Slots and tokens (to be written).
