//! The uid of the process at the other end of a Unix socket (`SO_PEERCRED`),
//! which `softkms serve` checks before it serves a PKCS#11 client, and a
//! client checks before it sends a PIN to a server; our own uid.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// This process's effective uid.
#[cfg(feature = "serve")]
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The peer's effective uid when it connected.
pub(crate) fn peer_uid(s: &UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>())
        .map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: the descriptor is an open socket owned by `s`; `cred` and `len`
    // are valid for writes of the sizes given, as getsockopt(2) requires.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_socket_pair_is_our_own_uid() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        assert_eq!(super::peer_uid(&a).unwrap(), me);
    }
}
