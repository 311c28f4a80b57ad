//! Session and login state machine (§5.6, with the session states of §5.6's
//! figures: R/O public, R/O user, R/W public, R/W user, R/W SO).

use crate::{check, ensure, expect_rv, ok, t, want, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, Template};
use std::ptr::null_mut as nul;

const BAD_SESSION: CK_SESSION_HANDLE = 0x7FFF_FFF0;

fn state_is(m: &p11_testkit::Module, s: CK_SESSION_HANDLE, want: CK_STATE) -> Outcome {
    match m.session_info(s) {
        Ok(i) => check(i.state == want, || {
            format!(
                "expected state {}, got {}",
                state_name(want),
                state_name(i.state)
            )
        }),
        Err(rv) => Outcome::Fail(format!("C_GetSessionInfo: {}", p11_testkit::rv_name(rv))),
    }
}

fn state_name(s: CK_STATE) -> String {
    match s {
        CKS_RO_PUBLIC_SESSION => "CKS_RO_PUBLIC_SESSION".into(),
        CKS_RO_USER_FUNCTIONS => "CKS_RO_USER_FUNCTIONS".into(),
        CKS_RW_PUBLIC_SESSION => "CKS_RW_PUBLIC_SESSION".into(),
        CKS_RW_USER_FUNCTIONS => "CKS_RW_USER_FUNCTIONS".into(),
        CKS_RW_SO_FUNCTIONS => "CKS_RW_SO_FUNCTIONS".into(),
        o => format!("{o}"),
    }
}

fn data(token: bool, private: bool, label: &str) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .flag(CKA_TOKEN, token)
        .flag(CKA_PRIVATE, private)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, b"conformance")
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    r.group("sessions", |r, env| {
        // --- C_OpenSession (§5.6.1)
        r.case("open-session.not-serial", "§5.6.1", env, |m, e| {
            expect_rv(&[CKR_SESSION_PARALLEL_NOT_SUPPORTED], m.open_flags(e.slot, 0).err().unwrap_or(CKR_OK))
        });
        r.case("open-session.invalid-slot", "§5.6.1", env, |m, _| {
            expect_rv(&[CKR_SLOT_ID_INVALID], m.open(0x7FFF_FFF0, false).err().unwrap_or(CKR_OK))
        });
        r.case("open-session.null-handle", "§5.6.1", env, |m, e| {
            expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_OpenSession, e.slot, CKF_SERIAL_SESSION, nul(), None, nul()))
        });
        r.case("open-session.distinct-handles", "§5.6.1", env, |m, e| {
            let a = t!(m.open(e.slot, false), "C_OpenSession");
            let b = t!(m.open(e.slot, false), "C_OpenSession");
            check(a != b && a != CK_INVALID_HANDLE && b != CK_INVALID_HANDLE, || {
                format!("expected two distinct non-zero handles, got {a} and {b}")
            })
        });
        r.case("open-session.ro-public-state", "§5.6.1", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            state_is(m, s, CKS_RO_PUBLIC_SESSION)
        });
        r.case("open-session.rw-public-state", "§5.6.1", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            state_is(m, s, CKS_RW_PUBLIC_SESSION)
        });
        r.case("open-session.ro-while-so", "§5.6.1", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            expect_rv(&[CKR_SESSION_READ_WRITE_SO_EXISTS], m.open(e.slot, false).err().unwrap_or(CKR_OK))
        });
        r.case("open-session.rw-while-so", "§5.6.1", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            let s2 = t!(m.open(e.slot, true), "C_OpenSession(RW) while SO");
            state_is(m, s2, CKS_RW_SO_FUNCTIONS)
        });
        r.case("open-session.inherits-user-login", "§5.6.1", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let s2 = t!(m.open(e.slot, true), "C_OpenSession(RW)");
            state_is(m, s2, CKS_RW_USER_FUNCTIONS)
        });
        // --- C_CloseSession / C_CloseAllSessions (§5.6.2, §5.6.3)
        r.case("close-session.invalid", "§5.6.2", env, |m, _| expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.close(BAD_SESSION)));
        r.case("close-session.twice", "§5.6.2", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.close(s), "C_CloseSession");
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.close(s))
        });
        r.case("close-session.handle-invalid-after", "§5.6.2", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.close(s), "C_CloseSession");
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.session_info(s).err().unwrap_or(CKR_OK))
        });
        r.case("close-session.last-logs-out", "§5.6.2", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            ok!(m.close(s), "C_CloseSession");
            let s2 = t!(m.open(e.slot, false), "C_OpenSession");
            state_is(m, s2, CKS_RO_PUBLIC_SESSION)
        });
        r.case("close-session.destroys-session-objects", "§5.6.2", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let keep = t!(m.open(e.slot, false), "C_OpenSession");
            let o = t!(m.create(s, &data(false, false, "conf-close")), "C_CreateObject");
            ok!(m.close(s), "C_CloseSession");
            expect_rv(&[CKR_OBJECT_HANDLE_INVALID], m.get(keep, o, CKA_LABEL).err().unwrap_or(CKR_OK))
        });
        r.case("close-all.invalid-slot", "§5.6.3", env, |m, _| expect_rv(&[CKR_SLOT_ID_INVALID], m.close_all(0x7FFF_FFF0)));
        r.case("close-all.handles-invalid", "§5.6.3", env, |m, e| {
            let a = t!(m.open(e.slot, false), "C_OpenSession");
            let b = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.close_all(e.slot), "C_CloseAllSessions");
            let ra = m.session_info(a).err().unwrap_or(CKR_OK);
            let rb = m.session_info(b).err().unwrap_or(CKR_OK);
            check(ra == CKR_SESSION_HANDLE_INVALID && rb == CKR_SESSION_HANDLE_INVALID, || {
                format!("expected CKR_SESSION_HANDLE_INVALID for both, got {} and {}", p11_testkit::rv_name(ra), p11_testkit::rv_name(rb))
            })
        });
        r.case("close-all.logs-out", "§5.6.3", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            ok!(m.close_all(e.slot), "C_CloseAllSessions");
            let s2 = t!(m.open(e.slot, false), "C_OpenSession");
            state_is(m, s2, CKS_RO_PUBLIC_SESSION)
        });
        // --- C_GetSessionInfo (§5.6.4)
        r.case("session-info.invalid", "§5.6.4", env, |m, _| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.session_info(BAD_SESSION).err().unwrap_or(CKR_OK))
        });
        r.case("session-info.zero-handle", "§5.6.4", env, |m, _| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.session_info(CK_INVALID_HANDLE).err().unwrap_or(CKR_OK))
        });
        r.case("session-info.null", "§5.6.4", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetSessionInfo, s, nul()))
        });
        r.case("session-info.fields", "§5.6.4", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            let i = t!(m.session_info(s), "C_GetSessionInfo");
            check(i.slotID == e.slot && i.flags & CKF_SERIAL_SESSION != 0 && i.flags & CKF_RW_SESSION != 0, || {
                format!("expected slotID {} and CKF_SERIAL_SESSION|CKF_RW_SESSION, got slot {} flags 0x{:x}", e.slot, i.slotID, i.flags)
            })
        });
        r.case("session-info.ro-flags", "§5.6.4", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let i = t!(m.session_info(s), "C_GetSessionInfo");
            check(i.flags & CKF_RW_SESSION == 0 && i.flags & CKF_SERIAL_SESSION != 0, || {
                format!("expected CKF_SERIAL_SESSION without CKF_RW_SESSION, got 0x{:x}", i.flags)
            })
        });
        // --- C_Login (§5.6.8)
        r.case("login.user-ro", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            state_is(m, s, CKS_RO_USER_FUNCTIONS)
        });
        r.case("login.user-rw", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            state_is(m, s, CKS_RW_USER_FUNCTIONS)
        });
        r.case("login.applies-to-all-sessions", "§5.6.8", env, |m, e| {
            let a = t!(m.open(e.slot, false), "C_OpenSession");
            let b = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(a, CKU_USER, &e.pin), "C_Login(USER)");
            state_is(m, b, CKS_RW_USER_FUNCTIONS)
        });
        r.case("login.so-rw", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            state_is(m, s, CKS_RW_SO_FUNCTIONS)
        });
        r.case("login.so-with-ro-session", "§5.6.8", env, |m, e| {
            let _ro = t!(m.open(e.slot, false), "C_OpenSession(RO)");
            let s = t!(m.open(e.slot, true), "C_OpenSession(RW)");
            expect_rv(&[CKR_SESSION_READ_ONLY_EXISTS], m.login(s, CKU_SO, &e.so_pin))
        });
        r.case("login.user-twice", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            expect_rv(&[CKR_USER_ALREADY_LOGGED_IN], m.login(s, CKU_USER, &e.pin))
        });
        r.case("login.so-twice", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            expect_rv(&[CKR_USER_ALREADY_LOGGED_IN], m.login(s, CKU_SO, &e.so_pin))
        });
        r.case("login.so-while-user", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            expect_rv(&[CKR_USER_ANOTHER_ALREADY_LOGGED_IN], m.login(s, CKU_SO, &e.so_pin))
        });
        r.case("login.user-while-so", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            expect_rv(&[CKR_USER_ANOTHER_ALREADY_LOGGED_IN], m.login(s, CKU_USER, &e.pin))
        });
        r.case("login.wrong-pin", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let rv = m.login(s, CKU_USER, b"definitely-wrong-pin");
            m.login(s, CKU_USER, &e.pin);
            expect_rv(&[CKR_PIN_INCORRECT], rv)
        });
        r.case("login.wrong-so-pin", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            let rv = m.login(s, CKU_SO, b"definitely-wrong-pin");
            m.login(s, CKU_SO, &e.so_pin);
            expect_rv(&[CKR_PIN_INCORRECT], rv)
        });
        r.case("login.wrong-pin-keeps-public", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let _ = m.login(s, CKU_USER, b"definitely-wrong-pin");
            let out = state_is(m, s, CKS_RO_PUBLIC_SESSION);
            m.login(s, CKU_USER, &e.pin);
            out
        });
        r.case("login.user-type-invalid", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_USER_TYPE_INVALID], m.login(s, 7, &e.pin))
        });
        r.case("login.invalid-session", "§5.6.8", env, |m, e| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.login(BAD_SESSION, CKU_USER, &e.pin))
        });
        r.case("login.context-specific-without-operation", "§5.6.8", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            expect_rv(&[CKR_OPERATION_NOT_INITIALIZED], m.login(s, CKU_CONTEXT_SPECIFIC, &e.pin))
        });
        // --- C_Logout (§5.6.10)
        r.case("logout.not-logged-in", "§5.6.10", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_USER_NOT_LOGGED_IN], m.logout(s))
        });
        r.case("logout.user-to-public", "§5.6.10", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            ok!(m.logout(s), "C_Logout");
            state_is(m, s, CKS_RW_PUBLIC_SESSION)
        });
        r.case("logout.so-to-public", "§5.6.10", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_SO, &e.so_pin), "C_Login(SO)");
            ok!(m.logout(s), "C_Logout");
            state_is(m, s, CKS_RW_PUBLIC_SESSION)
        });
        r.case("logout.all-sessions", "§5.6.10", env, |m, e| {
            let a = t!(m.open(e.slot, false), "C_OpenSession");
            let b = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(a, CKU_USER, &e.pin), "C_Login(USER)");
            ok!(m.logout(b), "C_Logout");
            state_is(m, a, CKS_RO_PUBLIC_SESSION)
        });
        r.case("logout.twice", "§5.6.10", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            ok!(m.logout(s), "C_Logout");
            expect_rv(&[CKR_USER_NOT_LOGGED_IN], m.logout(s))
        });
        r.case("logout.invalid-session", "§5.6.10", env, |m, _| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.logout(BAD_SESSION))
        });
        r.case("logout.destroys-private-session-objects", "§5.6.10", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let o = t!(m.create(s, &data(false, true, "conf-logout")), "C_CreateObject(private session object)");
            ok!(m.logout(s), "C_Logout");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER) again");
            expect_rv(&[CKR_OBJECT_HANDLE_INVALID], m.get(s, o, CKA_LABEL).err().unwrap_or(CKR_OK))
        });
        // --- what each session state allows (§5.6 session states, §4.4 storage objects)
        r.case("state.ro-public.create-token-object", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_SESSION_READ_ONLY], m.create(s, &data(true, false, "conf-ro")).err().unwrap_or(CKR_OK))
        });
        r.case("state.ro-user.create-token-object", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            expect_rv(&[CKR_SESSION_READ_ONLY], m.create(s, &data(true, true, "conf-ro")).err().unwrap_or(CKR_OK))
        });
        r.case("state.ro-public.create-session-object", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_OK], m.create(s, &data(false, false, "conf-ro")).err().unwrap_or(CKR_OK))
        });
        r.case("state.public.create-private-object", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            expect_rv(&[CKR_USER_NOT_LOGGED_IN], m.create(s, &data(false, true, "conf-priv")).err().unwrap_or(CKR_OK))
        });
        r.case("state.rw-public.create-token-object", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            let o = t!(m.create(s, &data(true, false, "conf-rw-public")), "C_CreateObject(public token object)");
            expect_rv(&[CKR_OK], m.destroy(s, o))
        });
        r.case("state.rw-user.create-private-token-object", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let o = t!(m.create(s, &data(true, true, "conf-rw-user")), "C_CreateObject(private token object)");
            expect_rv(&[CKR_OK], m.destroy(s, o))
        });
        r.case("state.public.private-objects-hidden", "§5.6", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            ok!(m.login(s, CKU_USER, &e.pin), "C_Login(USER)");
            let o = t!(m.create(s, &data(true, true, "conf-hidden")), "C_CreateObject");
            ok!(m.logout(s), "C_Logout");
            let found = m.find(s, &Template::new().bytes(CKA_LABEL, b"conf-hidden"));
            let direct = m.get(s, o, CKA_LABEL);
            m.login(s, CKU_USER, &e.pin);
            // Handles of private objects may change across a logout (§5.6): clean up
            // by label.
            let again = m.find(s, &Template::new().bytes(CKA_LABEL, b"conf-hidden")).unwrap_or_default();
            for h in again.into_iter().chain([o]) {
                let _ = m.destroy(s, h);
            }
            let found = t!(found, "C_FindObjects");
            ensure!(found.is_empty(), "expected no private object found while logged out, got {}", found.len());
            check(direct.is_err(), || "expected C_GetAttributeValue on a private object to fail while logged out".into())
        });
        r.case("state.token-object-persists", "§4.4", env, |m, e| {
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            let o = t!(m.create(s, &data(true, false, "conf-persist")), "C_CreateObject");
            m.close(s);
            let s = t!(m.open(e.slot, true), "C_OpenSession");
            let found = t!(m.find(s, &Template::new().bytes(CKA_LABEL, b"conf-persist")), "C_FindObjects");
            m.destroy(s, o);
            check(found.len() == 1, || format!("expected the token object after closing the session, found {}", found.len()))
        });
        r.case("state.session-object-shared", "§4.4", env, |m, e| {
            let a = t!(m.open(e.slot, false), "C_OpenSession");
            let b = t!(m.open(e.slot, false), "C_OpenSession");
            let o = t!(m.create(a, &data(false, false, "conf-shared")), "C_CreateObject");
            let v = t!(m.get(b, o, CKA_LABEL), "C_GetAttributeValue from the other session");
            check(v == b"conf-shared", || "expected the other session to read the session object".into())
        });
        // --- C_SessionCancel (§5.6.5), operation state (§5.6.6, §5.6.7)
        r.case("session-cancel.no-operation", "§5.6.5", env, |m, e| {
            let Some(f3) = m.f3 else { return Outcome::Skip("no PKCS#11 3.0 function list".into()) };
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(&[CKR_OK, CKR_FUNCTION_NOT_SUPPORTED], call!(f3, C_SessionCancel, s, CKF_DIGEST))
        });
        r.case("session-cancel.cancels-digest", "§5.6.5", env, |m, e| {
            let Some(f3) = m.f3 else { return Outcome::Skip("no PKCS#11 3.0 function list".into()) };
            if !e.mechs.contains(&CKM_SHA256) {
                return Outcome::Skip("CKM_SHA256 not advertised".into());
            }
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            ok!(m.op_init(p11_testkit::Op::Digest, s, &p11_testkit::Mech::new(CKM_SHA256), 0), "C_DigestInit");
            let rv = call!(f3, C_SessionCancel, s, CKF_DIGEST);
            if rv == CKR_FUNCTION_NOT_SUPPORTED {
                return Outcome::Skip("C_SessionCancel not supported".into());
            }
            want!(rv, [CKR_OK], "C_SessionCancel");
            expect_rv(&[CKR_OK], m.op_init(p11_testkit::Op::Digest, s, &p11_testkit::Mech::new(CKM_SHA256), 0))
        });
        r.case("operation-state.get-null-length", "§5.6.6", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(
                &[CKR_ARGUMENTS_BAD, CKR_FUNCTION_NOT_SUPPORTED, CKR_OPERATION_NOT_INITIALIZED],
                call!(m.f, C_GetOperationState, s, nul(), nul()),
            )
        });
        r.case("function-status.legacy", "§5.20", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let a = call!(m.f, C_GetFunctionStatus, s);
            let b = call!(m.f, C_CancelFunction, s);
            check(a == CKR_FUNCTION_NOT_PARALLEL && b == CKR_FUNCTION_NOT_PARALLEL, || {
                format!("expected CKR_FUNCTION_NOT_PARALLEL twice, got {} and {}", p11_testkit::rv_name(a), p11_testkit::rv_name(b))
            })
        });
        // --- random (§5.19)
        r.case("random.generate", "§5.19", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let a = t!(m.random(s, 32), "C_GenerateRandom");
            let b = t!(m.random(s, 32), "C_GenerateRandom");
            check(a != b && a != [0u8; 32], || "expected two different random blocks".into())
        });
        r.case("random.invalid-session", "§5.19", env, |m, _| {
            expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.random(BAD_SESSION, 8).err().unwrap_or(CKR_OK))
        });
        r.case("random.seed", "§5.19", env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            let mut seed = *b"conformance seed";
            expect_rv(&[CKR_OK, CKR_RANDOM_SEED_NOT_SUPPORTED], call!(m.f, C_SeedRandom, s, seed.as_mut_ptr(), 16))
        });
    });
}
