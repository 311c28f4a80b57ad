//! The names of a token's two built-in principals, as the store's rows, the key
//! policies and the audit log spell them. A leaf: it imports nothing. Named
//! principals' rows are `kms::principals::row_name`.

/// The security officer.
pub const SO: &str = "so";
/// The default user (the token owner).
pub const USER: &str = "user";
