//! Slot and token management (PKCS#11 3.0 §5.5): slots, token and
//! mechanism information, `C_InitToken`, `C_InitPIN`, `C_SetPIN`.

use super::{MechInfo, Module, SlotInfo, TokenInfo};
use crate::clock;
use crate::error::{Error, Result};
use crate::mechanism::registry;
use crate::store::audit::AuditRecord;
use crate::token::{Login, Token, SO, USER};
use cryptoki_sys::*;

impl Module {
    /// `C_GetSlotList` (§5.5): every slot has a token (a file), present or not yet made.
    pub fn slot_list(&self, token_present: bool) -> Vec<CK_SLOT_ID> {
        // A remote slot's token is present while its server answers.
        let present = |r: &&std::sync::Arc<crate::remote::client::Remote>| {
            !token_present
                || r.slot_info()
                    .is_ok_and(|i| i.flags & CKF_TOKEN_PRESENT != 0)
        };
        let mut ids: Vec<CK_SLOT_ID> = self
            .tokens
            .iter()
            .map(|t| t.cfg.id)
            .chain(self.remotes.iter().filter(present).map(|r| r.cfg.id))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// `C_GetSlotInfo` (§5.5).
    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<SlotInfo> {
        if let Some(r) = self.remote_slot(slot) {
            return r.slot_info();
        }
        let t = self.token(slot)?;
        Ok(SlotInfo {
            description: t.cfg.description.clone(),
            manufacturer: "SoftKMS".into(),
            flags: CKF_TOKEN_PRESENT,
            hardware_version: (0, 1),
            firmware_version: (0, 1),
        })
    }

    /// `C_GetTokenInfo` (§5.5).
    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        if let Some(r) = self.remote_slot(slot) {
            return r.token_info();
        }
        let t = self.token(slot)?;
        let meta = t.meta()?;
        let mut flags =
            CKF_RNG | CKF_LOGIN_REQUIRED | CKF_RESTORE_KEY_NOT_NEEDED | CKF_CLOCK_ON_TOKEN;
        let max = t.cfg.max_pin_failures;
        let pin_flags = |failed: u32, low: CK_FLAGS, last: CK_FLAGS, locked: CK_FLAGS| {
            if failed >= max {
                locked
            } else if failed + 1 == max {
                low | last
            } else if failed > 0 {
                low
            } else {
                0
            }
        };
        if let Some(m) = &meta {
            flags |= CKF_TOKEN_INITIALIZED;
            if m.user_pin_set {
                flags |= CKF_USER_PIN_INITIALIZED;
            }
            if let Some((failed, _)) = t.pin_status(USER)? {
                flags |= pin_flags(
                    failed,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                );
            }
            if let Some((failed, _)) = t.pin_status(SO)? {
                flags |= pin_flags(
                    failed,
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                );
            }
        }
        let sessions = self.sessions_of(slot);
        let rw = sessions.iter().filter(|s| s.lock().rw).count();
        let count = |n: usize| CK_ULONG::try_from(n).unwrap_or(CK_ULONG::MAX);
        Ok(TokenInfo {
            label: meta.as_ref().map(|m| m.label.clone()).unwrap_or_default(),
            manufacturer: "SoftKMS".into(),
            model: "SoftKMS token".into(),
            serial: meta.as_ref().map(|m| m.serial.clone()).unwrap_or_default(),
            flags,
            max_session_count: CK_EFFECTIVELY_INFINITE,
            session_count: count(sessions.len()),
            max_rw_session_count: CK_EFFECTIVELY_INFINITE,
            rw_session_count: count(rw),
            max_pin_len: count(t.cfg.max_pin_len),
            min_pin_len: count(t.cfg.min_pin_len),
            total_public_memory: CK_UNAVAILABLE_INFORMATION,
            free_public_memory: CK_UNAVAILABLE_INFORMATION,
            total_private_memory: CK_UNAVAILABLE_INFORMATION,
            free_private_memory: CK_UNAVAILABLE_INFORMATION,
            hardware_version: (0, 1),
            firmware_version: (0, 1),
            utc_time: clock::utc_time_string(clock::now_unix()),
        })
    }

    /// `C_GetMechanismList` (§5.5): generated from the registry.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        if let Some(r) = self.remote_slot(slot) {
            return r.mechanism_list();
        }
        self.token(slot)?;
        Ok(registry::offered(&self.settings).map(|d| d.mech).collect())
    }

    /// `C_GetMechanismInfo` (§5.5).
    pub fn mechanism_info(&self, slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
        if let Some(r) = self.remote_slot(slot) {
            return r.mechanism_info(mech);
        }
        self.token(slot)?;
        let d = self.mechanism(mech)?;
        Ok(MechInfo {
            min_key: d.min_key,
            max_key: d.max_key,
            flags: d.info_flags(),
        })
    }

    /// `C_InitToken` (§5.5); `label` is the 32-byte blank-padded label.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8]) -> Result<()> {
        if let Some(r) = self.remote_slot(slot) {
            return r.init_token(so_pin, label);
        }
        let t = self.token(slot)?;
        if !self.sessions_of(slot).is_empty() {
            return Err(Error::SessionExists);
        }
        let label = std::str::from_utf8(label).map_err(|_| Error::ArgumentsBad)?;
        t.init(
            so_pin,
            label.trim_end_matches(' '),
            &AuditRecord::management("C_InitToken", SO, 0),
        )
    }

    /// `C_InitPIN` (§5.5): the SO sets the user's PIN.
    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init_pin(h, pin);
        }
        let (s, t) = self.session(h)?;
        let rw = s.lock().rw;
        if !rw || !Self::is_so(t) {
            return Err(Error::UserNotLoggedIn);
        }
        t.set_pin(USER, pin, &self.rec(t, "C_InitPIN", h))
    }

    /// `C_SetPIN` (§5.5): the PIN of whoever is logged in, or the user's.
    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.set_pin(h, old, new);
        }
        let (s, t) = self.session(h)?;
        if !s.lock().rw {
            return Err(Error::SessionReadOnly);
        }
        let login = t.state.read().login.clone();
        let who = match login {
            Login::Public => USER.to_string(),
            other => Token::row_of(&other)?,
        };
        t.change_pin(&who, old, new, &self.rec(t, "C_SetPIN", h))
    }
}
