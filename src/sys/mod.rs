//! The calls SoftKMS makes to the operating system: beside `ffi`, the
//! only code allowed `unsafe` (each block with a `// SAFETY:` line): locking key
//! material in memory ([`protect`], [`protect_many`]), the coarse realtime clock
//! ([`coarse_realtime_ms`]), the process id for the fork check ([`pid`]) a
//! handler at process exit ([`at_exit`]) and the uid of a Unix socket's peer
//! ([`peer_uid`]).
//!
//! A leaf: nothing here uses another module of the crate, so every layer may
//! call it (the module for the fork check and the exit handler, the token for
//! memory locking and the clock, `ffi` for the fork check before any lock).

#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod clock;
mod exit;
mod mem;
mod peer;
mod process;

pub(crate) use clock::coarse_realtime_ms;
pub(crate) use exit::at_exit;
pub(crate) use mem::{protect, protect_many};
#[cfg(feature = "serve")]
pub(crate) use peer::euid;
pub(crate) use peer::peer_uid;
pub(crate) use process::pid;
