//! AES-256-GCM sealing of stored secrets (to be written).
