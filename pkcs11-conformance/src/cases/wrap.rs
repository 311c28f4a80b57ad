//! Wrapping and unwrapping (§5.18.3, §5.18.4).

use crate::Runner;

/// Runs the chapter.
pub fn run(_r: &mut Runner) {}
