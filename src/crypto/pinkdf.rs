//! Argon2id key derivation from PINs (to be written).
