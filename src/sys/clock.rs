//! The system's clock, read cheaply for decisions that can be a tick late.

/// Milliseconds since the Unix epoch from `CLOCK_REALTIME_COARSE` (Linux; a
/// vDSO read, no system call); `None` elsewhere or on failure.
pub(crate) fn coarse_realtime_ms() -> Option<i64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec owned by this frame.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        if rc != 0 {
            return None;
        }
        // time_t and c_long are i64 here but narrower on some targets.
        #[allow(clippy::useless_conversion)]
        let secs = i64::try_from(ts.tv_sec).ok()?;
        #[allow(clippy::useless_conversion)]
        let ms = i64::try_from(ts.tv_nsec).ok()? / 1_000_000;
        Some(secs.saturating_mul(1000).saturating_add(ms))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}
