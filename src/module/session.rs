//! Session management (PKCS#11 3.0 §5.6): open, close, information,
//! `C_SessionCancel`, login and logout.

use super::next_session_handle;
use super::{principal_of, Module, SessionInfo, NEXT_SESSION};
use crate::clock;
use crate::error::{Error, Result};
use crate::gate::{self};
use crate::kms::lifecycle;
use crate::kms::principals;
use crate::object::Object;
use crate::session::Session;
use crate::store::audit::AuditRecord;
use crate::token::{Login, Token, USER};
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Module {
    /// `C_OpenSession` (§5.6).
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        if let Some(r) = self.remote_slot(slot) {
            return r.open_session(flags, next_session_handle());
        }
        let t = self.token(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        if t.meta()?.is_none() {
            return Err(Error::TokenNotRecognized("token is not initialized".into()));
        }
        let rw = flags & CKF_RW_SESSION != 0;
        if !rw && Self::is_so(t) {
            return Err(Error::SessionReadWriteSoExists);
        }
        let h = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        self.sessions
            .write()
            .insert(h, Arc::new(Mutex::new(Session::new(h, slot, rw))));
        Ok(h)
    }

    pub(super) fn end_session(&self, s: &Session, t: &Token) {
        if let Ok(store) = t.store() {
            t.auditor.session_closed(&store, s.handle);
        }
        let mut st = t.state.write();
        st.objects.retain(|o| o.session != Some(s.handle));
        st.acting.remove(&s.handle);
    }

    pub(super) fn after_close(&self, t: &Token) {
        if self.sessions_of(t.cfg.id).is_empty() {
            // The last session of the token is gone: so is the login (§5.6).
            let _ = t.logout();
        }
    }

    /// `C_CloseSession` (§5.6).
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.close_session(h);
        }
        let (s, t) = self.session(h)?;
        self.sessions.write().remove(&h);
        self.end_session(&s.lock(), t);
        self.after_close(t);
        Ok(())
    }

    /// `C_CloseAllSessions` (§5.6).
    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        if let Some(r) = self.remote_slot(slot) {
            return r.close_all_sessions();
        }
        let t = Arc::clone(self.token(slot)?);
        let gone: Vec<_> = {
            let mut all = self.sessions.write();
            let hs: Vec<_> = all
                .iter()
                .filter(|(_, s)| s.lock().slot == slot)
                .map(|(h, _)| *h)
                .collect();
            hs.iter().filter_map(|h| all.remove(h)).collect()
        };
        for s in gone {
            self.end_session(&s.lock(), &t);
        }
        self.after_close(&t);
        Ok(())
    }

    /// `C_GetSessionInfo` (§5.6).
    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        if let Some(r) = self.remote(h) {
            return r.session_info(h);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let state = match (&t.state.read().login, s.rw) {
            (Login::Public, false) => CKS_RO_PUBLIC_SESSION,
            (Login::Public, true) => CKS_RW_PUBLIC_SESSION,
            (Login::User(_), false) => CKS_RO_USER_FUNCTIONS,
            (Login::User(_), true) => CKS_RW_USER_FUNCTIONS,
            (Login::So, _) => CKS_RW_SO_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if s.rw { CKF_RW_SESSION } else { 0 };
        Ok(SessionInfo {
            slot: s.slot,
            state,
            flags,
            device_error: 0,
        })
    }

    /// `C_SessionCancel` (§5.6, 3.0): ends the operations named by `flags`.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.session_cancel(h, flags);
        }
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        let ops = &mut s.ops;
        let table: [(CK_FLAGS, &mut dyn FnMut()); 9] = [
            (CKF_ENCRYPT, &mut || ops.encrypt = None),
            (CKF_DECRYPT, &mut || ops.decrypt = None),
            (CKF_DIGEST, &mut || ops.digest = None),
            (CKF_SIGN, &mut || ops.sign = None),
            // `C_VerifySignature*` (3.2) is a verification too.
            (CKF_VERIFY, &mut || {
                ops.verify = None;
                ops.verify_signature = None;
            }),
            (CKF_FIND_OBJECTS, &mut || ops.find = None),
            (CKF_MESSAGE_ENCRYPT, &mut || ops.message_encrypt = None),
            (CKF_MESSAGE_DECRYPT, &mut || ops.message_decrypt = None),
            (0, &mut || {}),
        ];
        for (flag, cancel) in table {
            if flag != 0 && flags & flag != 0 {
                cancel();
            }
        }
        Ok(())
    }

    /// `C_Login` and `C_LoginUser` (§5.6); `username` is `None` for `C_Login`.
    pub fn login(
        &self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: &[u8],
        username: Option<&[u8]>,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.login(h, user, pin, username);
        }
        let (sess, t) = self.session(h)?;
        let current = t.state.read().login.clone();
        let who = match user {
            CKU_SO => Login::So,
            CKU_USER => match username {
                None => Login::User(USER.into()),
                // "user" or a named principal; an unknown name is a wrong PIN.
                Some(n) => Login::User(principals::login_name(n)?),
            },
            CKU_CONTEXT_SPECIFIC => {
                // §5.6.8: only for an operation that was just started with a key
                // whose CKA_ALWAYS_AUTHENTICATE is TRUE (or any signing/decryption).
                let mut s = sess.lock();
                if s.ops.sign.is_none() && s.ops.decrypt.is_none() {
                    return Err(Error::OperationNotInitialized);
                }
                if !matches!(current, Login::User(_)) {
                    return Err(Error::UserNotLoggedIn);
                }
                t.change_pin_check(&Token::row_of(&current)?, pin, &self.rec(t, "C_Login", h))?;
                s.context_login_needed = false;
                return Ok(());
            }
            _ => return Err(Error::UserTypeInvalid),
        };
        // Logged in or logging in (another thread runs the KDF): refused at
        // once; `Token::login` decides again under the token's lock.
        t.check_login(&who)?;
        if who == Login::So && self.sessions_of(t.cfg.id).iter().any(|s| !s.lock().rw) {
            return Err(Error::SessionReadOnlyExists);
        }
        let principal = principal_of(&who);
        let function = if username.is_some() {
            "C_LoginUser"
        } else {
            "C_Login"
        };
        t.login(who, pin, &AuditRecord::management(function, &principal, h))?;
        // Scheduled deletions that came due while nobody looked happen now.
        let now = clock::now_unix();
        let due: Vec<Arc<Object>> = {
            let st = t.state.read();
            st.objects
                .iter()
                .filter(|o| lifecycle::deletion_due(o, now))
                .cloned()
                .collect()
        };
        for o in due {
            log::info!(
                "key {}: its scheduled deletion is due; destroyed",
                o.unique_id()
            );
            match gate::remove(t, h, &o, "scheduled deletion") {
                // Changed by another writer since it was read (its deletion
                // cancelled, say): it is checked again at its next use.
                Err(Error::Conflict) => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// Makes session `h` act for `principal` (`"user"` or a named principal
    /// that exists): from now on its key policies, the creator of the keys it
    /// makes and its audit records name that principal. Only a service logged
    /// in as the token owner may do this (`softkms serve`, which authenticates
    /// its callers itself); otherwise `CKR_USER_NOT_LOGGED_IN`. An unknown
    /// principal is `CKR_USER_PIN_NOT_INITIALIZED`. Not reachable through the
    /// C interface.
    pub fn act_as(&self, h: CK_SESSION_HANDLE, principal: &str) -> Result<()> {
        let (_, t) = self.session(h)?;
        if t.state.read().login != Login::User(USER.into()) {
            return Err(Error::UserNotLoggedIn);
        }
        let known = principal == USER
            || (principals::check_name(principal).is_ok()
                && t.store()?
                    .principal(&principals::row_name(principal))?
                    .is_some());
        if !known {
            return Err(Error::UserPinNotInitialized);
        }
        let mut st = t.state.write();
        if st.login != Login::User(USER.into()) {
            return Err(Error::UserNotLoggedIn);
        }
        st.acting.insert(h, principal.to_string());
        Ok(())
    }

    /// Whether session `h` is a service's: the token owner's, acting for
    /// nobody else (`CKR_USER_NOT_LOGGED_IN` otherwise).
    fn check_service(t: &Token, h: CK_SESSION_HANDLE) -> Result<()> {
        let st = t.state.read();
        if st.login != Login::User(USER.into()) || st.principal(h) != USER {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(())
    }

    /// The store row of `who` ("so", "user" or a named principal); an
    /// invalid name is `CKR_PIN_INCORRECT`, as at login.
    fn pin_row(who: &str) -> Result<String> {
        if who == crate::principal::SO {
            return Ok(crate::principal::SO.to_string());
        }
        let name = principals::login_name(who.as_bytes()).map_err(|_| Error::PinIncorrect)?;
        Ok(principals::row_name(&name))
    }

    /// Checks the PIN of `who` ("so", "user" or a named principal) for a
    /// service that authenticates its callers itself (the console's
    /// sign-in): a failure counts towards `who`'s lock-out and the outcome is
    /// recorded as `function` with `reason`, as a login is, but nobody is
    /// logged in by it. Only on a service session (the token owner's, acting
    /// for nobody else; `CKR_USER_NOT_LOGGED_IN` otherwise). A wrong PIN or
    /// an unknown name is `CKR_PIN_INCORRECT`, a locked principal
    /// `CKR_PIN_LOCKED`. Not reachable through the C interface.
    pub fn service_check_pin(
        &self,
        h: CK_SESSION_HANDLE,
        who: &str,
        pin: &[u8],
        function: &str,
        reason: &str,
    ) -> Result<()> {
        let (_, t) = self.session(h)?;
        Self::check_service(t, h)?;
        let row = Self::pin_row(who)?;
        let rec = AuditRecord::management(function, who, h).with_reason(reason);
        match t.change_pin_check(&row, pin, &rec) {
            Err(Error::UserPinNotInitialized) => Err(Error::PinIncorrect),
            r => r,
        }
    }

    /// Sets named principal `name`'s PIN (which clears its lock-out) for a
    /// service, on the SO's authority: `so_pin` is checked first as
    /// [`Module::service_check_pin`] checks a PIN, and the change is recorded
    /// as the SO's. Only on a service session. Not reachable through the C
    /// interface.
    pub fn service_set_principal_pin(
        &self,
        h: CK_SESSION_HANDLE,
        name: &str,
        new_pin: &[u8],
        so_pin: &[u8],
        reason: &str,
    ) -> Result<()> {
        let so = crate::principal::SO;
        self.service_check_pin(h, so, so_pin, "C_SetAttributeValue", reason)?;
        let (_, t) = self.session(h)?;
        let rec = AuditRecord::management("C_SetAttributeValue", so, h).with_reason(reason);
        t.set_principal_pin(name, new_pin, &rec)
    }

    /// The wrong PINs in a row of `who` ("so", "user" or a named principal;
    /// `None` when there is no such principal) and how many lock a PIN on
    /// this token. Only on a service session.
    pub fn service_pin_status(
        &self,
        h: CK_SESSION_HANDLE,
        who: &str,
    ) -> Result<(Option<u32>, u32)> {
        let (_, t) = self.session(h)?;
        Self::check_service(t, h)?;
        let failed = match Self::pin_row(who) {
            Ok(row) => t.pin_status(&row)?.map(|(n, _)| n),
            Err(_) => None,
        };
        Ok((failed, t.cfg.max_pin_failures))
    }

    /// A secret of the service, derived from the token master key with
    /// `label` and `parts` (HKDF, then HMAC-SHA256 over the length-prefixed
    /// parts): the same inputs give the same 32 bytes on this token, nobody
    /// without the master key can compute them. For the token owner's
    /// sessions only (`CKR_USER_NOT_LOGGED_IN` otherwise).
    pub fn service_secret(
        &self,
        h: CK_SESSION_HANDLE,
        label: &str,
        parts: &[&[u8]],
    ) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        let (_, t) = self.session(h)?;
        let st = t.state.read();
        if st.login != Login::User(USER.into()) || st.principal(h) != USER {
            return Err(Error::UserNotLoggedIn);
        }
        t.service_secret(&st, label, parts)
    }

    /// `C_Logout` (§5.6).
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.logout(h);
        }
        let (_, t) = self.session(h)?;
        if t.state.read().login == Login::Public {
            return Err(Error::UserNotLoggedIn);
        }
        if let Ok(store) = t.store() {
            t.auditor.flush_all(&store);
            let _ = t.auditor.management(&store, &[self.rec(t, "C_Logout", h)]);
        }
        t.logout()
    }

    /// `C_Sign*`/`C_Decrypt*` of a key with `CKA_ALWAYS_AUTHENTICATE` wait for
    /// the context-specific login (§5.6.8, §4.9).
    /// Like any error, this one ends the operation (`sign` or decryption).
    pub(super) fn check_context_login(&self, h: CK_SESSION_HANDLE, sign: bool) -> Result<()> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        if s.context_login_needed {
            s.context_login_needed = false;
            if sign {
                s.ops.sign = None;
            } else {
                s.ops.decrypt = None;
            }
            return Err(Error::UserNotLoggedIn);
        }
        Ok(())
    }
}
