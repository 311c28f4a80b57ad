//! The names of a token's two built-in principals, as the store's rows, the key
//! policies and the audit log spell them. A leaf: it imports nothing. Named
//! principals' rows are `kms::principals::row_name`.

/// The security officer.
pub(crate) const SO: &str = "so";
/// The default user (the token owner).
pub(crate) const USER: &str = "user";
