//! KMS layer (to be written).
