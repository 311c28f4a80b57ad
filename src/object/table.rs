//! Attribute table (to be written).
