//! Keeping decrypted key material out of swap and core dumps (DESIGN.md §3).
//!
//! [`protect`] is called once for each key-material attribute value when it
//! enters a token's object cache (see `Token::reload`, `Token::persist` and the
//! session-object paths of `Module`). It locks the pages the value spans in RAM
//! (`mlock`) and marks them to be left out of core dumps
//! (`madvise(MADV_DONTDUMP)`, Linux only). Both are best effort: a failure
//! (typically `RLIMIT_MEMLOCK`, 8 MiB or as little as 64 KiB by default) is
//! logged once at debug level and otherwise ignored, because a key that cannot
//! be locked is still better used than refused.
//!
//! # Choices
//!
//! - **Whole pages, shared with other allocations.** The values are ordinary
//!   heap buffers (`Zeroizing<Vec<u8>>` in an `AttrMap`), so a page usually
//!   holds other data as well. Locking or hiding a neighbour is harmless: it
//!   only keeps some non-secret bytes in RAM and out of a dump.
//! - **Never unlocked.** `munlock` is not reference-counted: unlocking the page
//!   of one freed key would unlock another key that shares it. Nothing is
//!   unlocked; a page stays locked and hidden until the allocator returns it to
//!   the system. The cost is bounded by [`MAX_PAGES`] and by the lock limit.
//!   Memory reused after a free holds no secret: the buffers are wiped when
//!   they are dropped (`Zeroizing`).
//! - **Calls every time.** The system calls are made on every [`protect`],
//!   even for a page done before: the allocator may have given a page back to
//!   the system and mapped it again, without the flags. Locking a locked page
//!   does not count twice against the limit. This costs two system calls per
//!   key-material attribute per load, not per operation.
//! - **A page budget.** Each locked or hidden range may split a mapping in
//!   three, and a process has at most `vm.max_map_count` (65,530 by default)
//!   mappings: past that, every `mmap` — and so `malloc` — fails. [`protect`]
//!   therefore touches at most [`MAX_PAGES`] distinct pages in the life of the
//!   process (at most 2 × [`MAX_PAGES`] new mappings) and logs once when the
//!   budget is spent; later values are used unprotected.
//! - **Not covered.** Copies made while an operation runs (the parsed form of a
//!   key, a version's material, the buffers of a cipher) and the token master
//!   key are ordinary memory, wiped when dropped. A forked child does not
//!   inherit the locks (`mlock(2)`).

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The most distinct pages [`protect`] touches in the life of the process
/// (64 MiB with 4 KiB pages).
pub(super) const MAX_PAGES: usize = 16_384;

/// The pages touched so far (their first address), for the budget.
static PAGES: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

static LOCK_FAILED: AtomicBool = AtomicBool::new(false);
#[cfg(any(target_os = "linux", target_os = "android"))]
static DONTDUMP_FAILED: AtomicBool = AtomicBool::new(false);
static BUDGET_SPENT: AtomicBool = AtomicBool::new(false);

/// The system's page size; 4096 if it cannot be read.
fn page_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        #[cfg(unix)]
        {
            // SAFETY: sysconf reads a system constant; it takes no pointer and has no precondition.
            let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(n)
                .ok()
                .filter(|n| n.is_power_of_two())
                .unwrap_or(4096)
        }
        #[cfg(not(unix))]
        {
            4096
        }
    })
}

/// The page-aligned range `[start, end)` that holds `buf`; `None` when empty.
fn page_range(addr: usize, len: usize, page: usize) -> Option<(usize, usize)> {
    if len == 0 {
        // An empty Vec's pointer dangles: there is nothing to protect.
        return None;
    }
    let start = addr & !(page - 1);
    let end = addr.checked_add(len)?.checked_add(page - 1)? & !(page - 1);
    Some((start, end))
}

/// Charges the pages of `[start, end)` to the budget; false when it is spent.
fn within_budget(start: usize, end: usize, page: usize) -> bool {
    let mut pages = PAGES.lock();
    let pages = pages.get_or_insert_with(HashSet::new);
    let new = (start..end)
        .step_by(page)
        .filter(|p| !pages.contains(p))
        .count();
    if pages.len() + new > MAX_PAGES {
        if !BUDGET_SPENT.swap(true, Ordering::Relaxed) {
            log::debug!(
                "{MAX_PAGES} pages of key material are locked; further keys are not locked in memory"
            );
        }
        return false;
    }
    pages.extend((start..end).step_by(page));
    true
}

/// Locks the pages that hold `buf` in RAM and leaves them out of core dumps,
/// as far as the system allows. Never fails; never unlocks (see the module
/// documentation).
pub(crate) fn protect(buf: &[u8]) {
    let page = page_size();
    let Some((start, end)) = page_range(buf.as_ptr() as usize, buf.len(), page) else {
        return;
    };
    if !within_budget(start, end, page) {
        return;
    }
    lock_pages(start, end - start);
    dont_dump(start, end - start);
}

/// [`protect`] for many values at once (a login loading thousands of keys):
/// the same pages, charged to the same budget, but one pair of system calls
/// per run of adjacent or overlapping pages instead of per value.
pub(crate) fn protect_many<'a>(bufs: impl IntoIterator<Item = &'a [u8]>) {
    let page = page_size();
    let mut ranges: Vec<(usize, usize)> = bufs
        .into_iter()
        .filter_map(|b| page_range(b.as_ptr() as usize, b.len(), page))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            // Every page of both ranges holds a live value, so the union of two
            // ranges that touch or overlap is mapped throughout.
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    for (start, end) in merged {
        if !within_budget(start, end, page) {
            return;
        }
        lock_pages(start, end - start);
        dont_dump(start, end - start);
    }
}

#[cfg(unix)]
fn lock_pages(start: usize, len: usize) {
    // SAFETY: [start, start+len) is the page-aligned span of a live slice the
    // caller borrows, so every page in it is mapped. mlock changes only whether
    // the pages may be swapped; it neither reads nor writes them, and moves no
    // mapping.
    let rc = unsafe { libc::mlock(start as *const libc::c_void, len) };
    if rc != 0 && !LOCK_FAILED.swap(true, Ordering::Relaxed) {
        log::debug!(
            "cannot lock key material in memory (mlock: {}); raise RLIMIT_MEMLOCK (ulimit -l) to keep keys out of swap",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(unix))]
fn lock_pages(_start: usize, _len: usize) {}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn dont_dump(start: usize, len: usize) {
    // SAFETY: as for mlock above, the range is the page-aligned span of a live
    // slice. MADV_DONTDUMP only sets a flag on the mapping (not in core dumps);
    // unlike MADV_DONTNEED or MADV_FREE it never discards or changes contents.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTDUMP) };
    if rc != 0 && !DONTDUMP_FAILED.swap(true, Ordering::Relaxed) {
        log::debug!(
            "cannot exclude key material from core dumps (madvise: {})",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn dont_dump(_start: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_whole_pages() {
        assert_eq!(page_range(0x1000, 0, 0x1000), None);
        assert_eq!(page_range(0x1000, 1, 0x1000), Some((0x1000, 0x2000)));
        assert_eq!(page_range(0x1fff, 2, 0x1000), Some((0x1000, 0x3000)));
        assert_eq!(page_range(0x1010, 0x1000, 0x1000), Some((0x1000, 0x3000)));
        assert_eq!(page_range(usize::MAX - 2, 2, 0x1000), None);
    }

    #[test]
    fn protect_accepts_any_slice() {
        protect(&[]);
        protect(&[1, 2, 3]);
        let big = vec![7u8; 3 * page_size() + 5];
        protect(&big[1..]);
        assert!(PAGES.lock().as_ref().is_some_and(|p| p.len() >= 4));
    }
}
