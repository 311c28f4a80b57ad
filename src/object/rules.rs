//! Object rules (being written on another branch; this stub fixes the read type).

use zeroize::Zeroizing;

/// The answer for one attribute of `C_GetAttributeValue`.
pub enum AttrRead {
    /// The value.
    Value(Zeroizing<Vec<u8>>),
    /// A sensitive or unextractable attribute.
    Sensitive,
    /// Not an attribute of this object.
    Invalid,
}
