//! Slot and token management (§5.5): slot list, slot and token information
//! (blank padding, flags, CK_UNAVAILABLE_INFORMATION), mechanism list and
//! information, C_WaitForSlotEvent, C_InitToken, C_InitPIN and C_SetPIN.

use crate::{check, ensure, expect_rv, ok, padded, t, want, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, rv_name};
use std::ptr::null_mut as nul;

const BAD_SLOT: CK_SLOT_ID = 0x7FFF_FFF0;

fn no_nul(name: &str, b: &[u8]) -> Result<(), String> {
    if b.contains(&0) {
        Err(format!(
            "{name}: expected blank padding, found a NUL byte in {:?}",
            String::from_utf8_lossy(b)
        ))
    } else {
        Ok(())
    }
}

fn res(r: Result<(), String>) -> Outcome {
    match r {
        Ok(()) => Outcome::Pass,
        Err(e) => Outcome::Fail(e),
    }
}

fn avail_le(name: &str, a: CK_ULONG, b: CK_ULONG, b_name: &str) -> Result<(), String> {
    // Either may be CK_UNAVAILABLE_INFORMATION (§3.2, CK_TOKEN_INFO).
    if a == CK_UNAVAILABLE_INFORMATION
        || b == CK_UNAVAILABLE_INFORMATION
        || b == CK_EFFECTIVELY_INFINITE
        || a <= b
    {
        Ok(())
    } else {
        Err(format!("expected {name} ({a}) <= {b_name} ({b})"))
    }
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    r.group("slots", |r, env| {
        r.case("slot-list.null-count", "§5.5.1", env, |m, _| {
            expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetSlotList, 0, nul(), nul()))
        });
        r.case("slot-list.contains-slot", "§5.5.1", env, |m, e| {
            let all = t!(m.slots(false), "C_GetSlotList(FALSE)");
            let present = t!(m.slots(true), "C_GetSlotList(TRUE)");
            check(all.contains(&e.slot) && present.contains(&e.slot), || {
                format!("expected slot {} in both lists, got {all:?} / {present:?}", e.slot)
            })
        });
        r.case("slot-list.present-subset", "§5.5.1", env, |m, _| {
            let all = t!(m.slots(false), "C_GetSlotList(FALSE)");
            let present = t!(m.slots(true), "C_GetSlotList(TRUE)");
            check(present.iter().all(|s| all.contains(s)), || "expected the token-present slots to be a subset".into())
        });
        r.case("slot-list.too-small", "§5.5.1", env, |m, _| {
            let mut n: CK_ULONG = 0;
            ok!(call!(m.f, C_GetSlotList, 0, nul(), &mut n), "C_GetSlotList(NULL)");
            let want_n = n;
            let mut buf = [0 as CK_SLOT_ID; 1];
            let mut small: CK_ULONG = 0;
            let rv = call!(m.f, C_GetSlotList, 0, buf.as_mut_ptr(), &mut small);
            check(rv == CKR_BUFFER_TOO_SMALL && small == want_n, || {
                format!("expected CKR_BUFFER_TOO_SMALL and count {want_n}, got {} and {small}", rv_name(rv))
            })
        });
        r.case("slot-list.larger-buffer", "§5.5.1", env, |m, _| {
            let mut n: CK_ULONG = 0;
            ok!(call!(m.f, C_GetSlotList, 0, nul(), &mut n), "C_GetSlotList(NULL)");
            let want_n = n;
            let mut buf = vec![0 as CK_SLOT_ID; want_n as usize + 8];
            let mut big = want_n + 8;
            let rv = call!(m.f, C_GetSlotList, 0, buf.as_mut_ptr(), &mut big);
            check(rv == CKR_OK && big == want_n, || {
                format!("expected CKR_OK and the count set to {want_n}, got {} and {big}", rv_name(rv))
            })
        });
        r.case("slot-info.invalid-slot", "§5.5.2", env, |m, _| {
            expect_rv(&[CKR_SLOT_ID_INVALID], m.slot_info(BAD_SLOT).err().unwrap_or(CKR_OK))
        });
        r.case("slot-info.null", "§5.5.2", env, |m, e| expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetSlotInfo, e.slot, nul())));
        r.case("slot-info.padded", "§5.5.2", env, |m, e| {
            let i = t!(m.slot_info(e.slot), "C_GetSlotInfo");
            res(no_nul("slotDescription", &i.slotDescription).and_then(|_| no_nul("manufacturerID", &i.manufacturerID)))
        });
        r.case("slot-info.token-present", "§5.5.2", env, |m, e| {
            let i = t!(m.slot_info(e.slot), "C_GetSlotInfo");
            check(i.flags & CKF_TOKEN_PRESENT != 0, || format!("expected CKF_TOKEN_PRESENT in flags 0x{:x}", i.flags))
        });
        r.case("slot-info.flags-defined", "§5.5.2", env, |m, e| {
            let i = t!(m.slot_info(e.slot), "C_GetSlotInfo");
            let known = CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
            check(i.flags & !known == 0, || format!("expected only defined slot flags, got 0x{:x}", i.flags))
        });
        r.case("token-info.invalid-slot", "§5.5.3", env, |m, _| {
            expect_rv(&[CKR_SLOT_ID_INVALID], m.token_info(BAD_SLOT).err().unwrap_or(CKR_OK))
        });
        r.case("token-info.null", "§5.5.3", env, |m, e| expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetTokenInfo, e.slot, nul())));
        r.case("token-info.padded", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            res(no_nul("label", &i.label)
                .and_then(|_| no_nul("manufacturerID", &i.manufacturerID))
                .and_then(|_| no_nul("model", &i.model))
                .and_then(|_| no_nul("serialNumber", &i.serialNumber)))
        });
        r.case("token-info.initialized", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            check(i.flags & CKF_TOKEN_INITIALIZED != 0 && i.flags & CKF_USER_PIN_INITIALIZED != 0, || {
                format!("expected CKF_TOKEN_INITIALIZED and CKF_USER_PIN_INITIALIZED, flags 0x{:x}", i.flags)
            })
        });
        r.case("token-info.pin-lengths", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            check(i.ulMinPinLen <= i.ulMaxPinLen && (e.pin.len() as CK_ULONG) <= i.ulMaxPinLen, || {
                format!("expected ulMinPinLen {} <= ulMaxPinLen {}", i.ulMinPinLen, i.ulMaxPinLen)
            })
        });
        r.case("token-info.session-counts", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            res(avail_le("ulSessionCount", i.ulSessionCount, i.ulMaxSessionCount, "ulMaxSessionCount")
                .and_then(|_| avail_le("ulRwSessionCount", i.ulRwSessionCount, i.ulMaxRwSessionCount, "ulMaxRwSessionCount"))
                .and_then(|_| avail_le("ulRwSessionCount", i.ulRwSessionCount, i.ulSessionCount, "ulSessionCount")))
        });
        r.case("token-info.memory", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            res(avail_le("ulFreePublicMemory", i.ulFreePublicMemory, i.ulTotalPublicMemory, "ulTotalPublicMemory")
                .and_then(|_| avail_le("ulFreePrivateMemory", i.ulFreePrivateMemory, i.ulTotalPrivateMemory, "ulTotalPrivateMemory")))
        });
        r.case("token-info.session-count-tracks", "§5.5.3", env, |m, e| {
            let s1 = t!(m.open(e.slot, false), "C_OpenSession(RO)");
            let _s2 = t!(m.open(e.slot, true), "C_OpenSession(RW)");
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            if i.ulSessionCount == CK_UNAVAILABLE_INFORMATION {
                return Outcome::Pass;
            }
            ensure!(i.ulSessionCount == 2 && i.ulRwSessionCount == 1,
                "expected ulSessionCount 2 and ulRwSessionCount 1 with one RO and one RW session, got {} and {}",
                i.ulSessionCount, i.ulRwSessionCount);
            m.close(s1);
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            check(i.ulSessionCount == 1, || format!("expected ulSessionCount 1 after closing one, got {}", i.ulSessionCount))
        });
        r.case("token-info.utc-time", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            if i.flags & CKF_CLOCK_ON_TOKEN == 0 {
                return Outcome::Skip("no CKF_CLOCK_ON_TOKEN".into());
            }
            check(i.utcTime[..14].iter().all(|c| c.is_ascii_digit()), || {
                format!("expected YYYYMMDDhhmmss digits, got {:?}", String::from_utf8_lossy(&i.utcTime))
            })
        });
        r.case("token-info.label-matches-init", "§5.5.3", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            check(!padded(&i.label).is_empty(), || "expected a non-empty label on an initialized token".into())
        });
        r.case("token-info.no-pin-locked-flags", "§5.5.3", env, |m, e| {
            // Not mandated, but a token with private objects and a user PIN sets it;
            // SO/user PIN flags must not claim a lock on a fresh token.
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            check(i.flags & (CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED) == 0, || {
                format!("expected no PIN-locked flag on a fresh token, flags 0x{:x}", i.flags)
            })
        });
        // --- mechanisms (§5.5.5, §5.5.6)
        r.case("mechanism-list.null-count", "§5.5.5", env, |m, e| {
            expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetMechanismList, e.slot, nul(), nul()))
        });
        r.case("mechanism-list.invalid-slot", "§5.5.5", env, |m, _| {
            expect_rv(&[CKR_SLOT_ID_INVALID], m.mechanisms(BAD_SLOT).err().unwrap_or(CKR_OK))
        });
        r.case("mechanism-list.too-small", "§5.5.5", env, |m, e| {
            let mut n: CK_ULONG = 0;
            ok!(call!(m.f, C_GetMechanismList, e.slot, nul(), &mut n), "C_GetMechanismList(NULL)");
            let want_n = n;
            if want_n < 2 {
                return Outcome::Skip("fewer than two mechanisms".into());
            }
            let mut buf = [0 as CK_MECHANISM_TYPE; 1];
            let mut small: CK_ULONG = 1;
            let rv = call!(m.f, C_GetMechanismList, e.slot, buf.as_mut_ptr(), &mut small);
            check(rv == CKR_BUFFER_TOO_SMALL && small == want_n, || {
                format!("expected CKR_BUFFER_TOO_SMALL and count {want_n}, got {} and {small}", rv_name(rv))
            })
        });
        r.case("mechanism-list.larger-buffer", "§5.5.5", env, |m, e| {
            let mut n: CK_ULONG = 0;
            ok!(call!(m.f, C_GetMechanismList, e.slot, nul(), &mut n), "C_GetMechanismList(NULL)");
            let want_n = n;
            let mut buf = vec![0 as CK_MECHANISM_TYPE; want_n as usize + 8];
            let mut big = want_n + 8;
            let rv = call!(m.f, C_GetMechanismList, e.slot, buf.as_mut_ptr(), &mut big);
            check(rv == CKR_OK && big == want_n, || {
                format!("expected CKR_OK and the count set to {want_n}, got {} and {big}", rv_name(rv))
            })
        });
        r.case("mechanism-list.no-duplicates", "§5.5.5", env, |m, e| {
            let mut v = t!(m.mechanisms(e.slot), "C_GetMechanismList");
            let n = v.len();
            v.sort_unstable();
            v.dedup();
            check(v.len() == n, || format!("expected distinct mechanisms, {} duplicates", n - v.len()))
        });
        r.case("mechanism-info.invalid", "§5.5.6", env, |m, e| {
            expect_rv(&[CKR_MECHANISM_INVALID], m.mech_info(e.slot, 0x7FFF_0000).err().unwrap_or(CKR_OK))
        });
        r.case("mechanism-info.invalid-slot", "§5.5.6", env, |m, _| {
            expect_rv(&[CKR_SLOT_ID_INVALID], m.mech_info(BAD_SLOT, CKM_SHA256).err().unwrap_or(CKR_OK))
        });
        r.case("mechanism-info.null", "§5.5.6", env, |m, e| {
            let Some(first) = e.mechs.first() else { return Outcome::Skip("no mechanisms".into()) };
            expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetMechanismInfo, e.slot, *first, nul()))
        });
        r.case("mechanism-info.every-listed", "§5.5.6", env, |m, e| {
            let bad: Vec<String> = e
                .mechs
                .iter()
                .filter_map(|mt| match m.mech_info(e.slot, *mt) {
                    Ok(i) if i.ulMinKeySize <= i.ulMaxKeySize => None,
                    Ok(i) => Some(format!("0x{mt:x}: min {} > max {}", i.ulMinKeySize, i.ulMaxKeySize)),
                    Err(rv) => Some(format!("0x{mt:x}: {}", rv_name(rv))),
                })
                .collect();
            check(bad.is_empty(), || format!("expected CKR_OK and min <= max for every listed mechanism: {}", bad.join("; ")))
        });
        // --- C_WaitForSlotEvent (§5.5.4)
        r.case("wait-for-slot-event.dont-block", "§5.5.4", env, |m, _| {
            let mut s: CK_SLOT_ID = 0;
            expect_rv(&[CKR_NO_EVENT, CKR_FUNCTION_NOT_SUPPORTED], call!(m.f, C_WaitForSlotEvent, CKF_DONT_BLOCK, &mut s, nul()))
        });
        // --- C_InitToken (§5.5.7)
        r.case("init-token.session-exists", "§5.5.7", env, |m, e| {
            let _s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_SESSION_EXISTS], m.init_token(e.slot, &e.so_pin, crate::LABEL))
        });
        r.case("init-token.invalid-slot", "§5.5.7", env, |m, e| {
            expect_rv(&[CKR_SLOT_ID_INVALID], m.init_token(BAD_SLOT, &e.so_pin, crate::LABEL))
        });
        r.case("init-token.null-label", "§5.5.7", env, |m, e| {
            let mut pin = e.so_pin.clone();
            let rv = call!(m.f, C_InitToken, e.slot, pin.as_mut_ptr(), pin.len() as CK_ULONG, nul());
            expect_rv(&[CKR_ARGUMENTS_BAD], rv)
        });
        // --- C_InitPIN (§5.5.8)
        r.case("init-pin.not-logged-in", "§5.5.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            expect_rv(&[CKR_USER_NOT_LOGGED_IN], m.init_pin(s, &e.pin))
        });
        r.case("init-pin.as-user", "§5.5.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            expect_rv(&[CKR_USER_NOT_LOGGED_IN], m.init_pin(s, &e.pin))
        });
        r.case("init-pin.so-resets", "§5.5.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            ok!(m.init_pin(s, &e.pin), "C_InitPIN");
            m.logout(s);
            expect_rv(&[CKR_OK], m.login(s, CKU_USER, &e.pin))
        });
        r.case("init-pin.invalid-session", "§5.5.8", env, |m, e| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.init_pin(0x7FFF_FFF0, &e.pin))
        });
        // --- C_SetPIN (§5.5.9)
        r.case("set-pin.wrong-old", "§5.5.9", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            let rv = m.set_pin(s, b"definitely-wrong-pin", &e.pin);
            // Restore the failure counter.
            m.login(s, CKU_USER, &e.pin);
            expect_rv(&[CKR_PIN_INCORRECT], rv)
        });
        r.case("set-pin.read-only-session", "§5.5.9", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession(RO)");
            expect_rv(&[CKR_SESSION_READ_ONLY], m.set_pin(s, &e.pin, &e.pin))
        });
        r.case("set-pin.user-round-trip", "§5.5.9", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let tmp = b"conformance-tmp-pin";
            ok!(m.set_pin(s, &e.pin, tmp), "C_SetPIN(pin -> tmp)");
            m.logout(s);
            let with_tmp = m.login(s, CKU_USER, tmp);
            ok!(m.set_pin(s, tmp, &e.pin), "C_SetPIN(tmp -> pin)");
            m.logout(s);
            want!(with_tmp, [CKR_OK], "C_Login with the new PIN");
            expect_rv(&[CKR_OK], m.login(s, CKU_USER, &e.pin))
        });
        r.case("set-pin.too-long", "§5.5.9", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let long = vec![b'x'; (i.ulMaxPinLen as usize).saturating_add(1).min(4096)];
            let rv = m.set_pin(s, &e.pin, &long);
            if rv == CKR_OK {
                m.set_pin(s, &long, &e.pin);
            }
            expect_rv(&[CKR_PIN_LEN_RANGE], rv)
        });
        r.case("set-pin.too-short", "§5.5.9", env, |m, e| {
            let i = t!(m.token_info(e.slot), "C_GetTokenInfo");
            if i.ulMinPinLen == 0 {
                return Outcome::Skip("ulMinPinLen is 0".into());
            }
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let short = vec![b'x'; i.ulMinPinLen as usize - 1];
            let rv = m.set_pin(s, &e.pin, &short);
            if rv == CKR_OK {
                m.set_pin(s, &short, &e.pin);
            }
            expect_rv(&[CKR_PIN_LEN_RANGE], rv)
        });
        r.case("set-pin.invalid-session", "§5.5.9", env, |m, e| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.set_pin(0x7FFF_FFF0, &e.pin, &e.pin))
        });
    });
}
