//! (to be written)

use crate::mechanism::MechanismDef;

/// The mechanisms of this family.
pub(crate) static MECHANISMS: &[MechanismDef] = &[];
