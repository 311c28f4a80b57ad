//! The safe PKCS#11 surface (to be written).
