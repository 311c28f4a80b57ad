//! Token initialization and principals: PINs that wrap the TMK, failed-login counts.

use super::audit::{append_in_tx, AuditRecord};
use super::{
    attempts, check_aad, random_bytes, wrap_aad, Keys, PrincipalInfo, Store, MAX_LABEL,
    MAX_PRINCIPAL_NAME, SO,
};
use crate::crypto::pinkdf::{derive_kek, KdfParams, SALT_LEN};
use crate::crypto::seal::{unwrap_key, wrap_key, Tmk, KEY_LEN};
use crate::error::{Error, Result};
use crate::store::backend::{PrincipalRow, TokenRow};
use std::time::Instant;
use zeroize::Zeroizing;

/// What the lock-out check before the KDF decided.
enum Admission {
    /// Go ahead: the principal's row, the token's uuid and epoch, and the id
    /// of this try's row.
    Go(PrincipalRow, [u8; 16], u64, i64),
    /// The failures reached the limit.
    Locked,
    /// The failures plus the tries in flight are at the limit.
    Full,
}

/// The audit record of a try's outcome, from the caller's template.
fn outcome_record(
    template: &AuditRecord,
    outcome: &std::result::Result<(), &Error>,
) -> AuditRecord {
    match outcome {
        Ok(()) => template.clone().with_rv(0),
        Err(e) => {
            let mut rec = template.clone().with_rv(e.rv());
            if rec.reason.is_empty() {
                rec.reason = e.to_string();
            }
            rec
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_PRINCIPAL_NAME
}

fn row_kdf(p: &PrincipalRow) -> KdfParams {
    KdfParams {
        m_cost_kib: p.m_cost_kib,
        t_cost: p.t_cost,
        p_cost: p.p_cost,
    }
}

/// Whether `to` is a higher Argon2id cost than `from`: no parameter lower, and
/// memory or passes higher. More lanes alone is no raise (the work per guess is
/// memory times passes; lanes only let a guesser spread it over more cores).
/// A cost is only ever raised automatically, never lowered.
pub(crate) fn kdf_raises(from: &KdfParams, to: &KdfParams) -> bool {
    to.m_cost_kib >= from.m_cost_kib
        && to.t_cost >= from.t_cost
        && to.p_cost >= from.p_cost
        && (to.m_cost_kib > from.m_cost_kib || to.t_cost > from.t_cost)
}

/// A fresh salt and the KEK the PIN derives with it (the slow part, run unlocked).
fn new_kek(pin: &[u8], kdf: &KdfParams) -> Result<([u8; SALT_LEN], Zeroizing<[u8; KEY_LEN]>)> {
    kdf.validate()?;
    let salt = random_bytes::<SALT_LEN>()?;
    let kek = derive_kek(pin, &salt, kdf)?;
    Ok((salt, kek))
}

fn hex_upper(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    b.iter()
        .flat_map(|x| {
            [
                char::from(HEX[usize::from(x >> 4)]),
                char::from(HEX[usize::from(x & 0xf)]),
            ]
        })
        .collect()
}

impl Store {
    /// Initializes (or re-initializes) the token in one transaction: wipes every
    /// object, principal and tombstone, makes a new TMK, token uuid, serial and
    /// epoch, stores the label and creates the "so" principal with `so_pin`.
    /// Returns the new TMK. When the token was already initialized, the caller
    /// must have verified the SO PIN first.
    pub fn init_token(&self, label: &str, so_pin: &[u8], kdf: &KdfParams) -> Result<Tmk> {
        self.init_token_with_audit(label, so_pin, kdf, &[])
    }

    /// [`Store::init_token`] that also appends `audit` in the same transaction.
    pub(super) fn init_token_with_audit(
        &self,
        label: &str,
        so_pin: &[u8],
        kdf: &KdfParams,
        audit: &[AuditRecord],
    ) -> Result<Tmk> {
        if label.len() > MAX_LABEL {
            return Err(Error::ArgumentsBad);
        }
        let (salt, kek) = new_kek(so_pin, kdf)?;
        let tmk = Tmk::generate()?;
        let uuid = random_bytes::<16>()?;
        let serial = hex_upper(&random_bytes::<8>()?);
        // Epochs stay below 2^63 so that they fit SQLite's signed integers.
        let epoch = u64::from_le_bytes(random_bytes::<8>()?) >> 1;
        let tmk_check = tmk
            .sealer()?
            .seal(&check_aad(&uuid), super::integrity::ROOTED)?;
        let wrapped_tmk = wrap_key(&kek, &wrap_aad(&uuid, SO), &tmk)?;
        self.write_fresh(&tmk, |tx, meta, generation| {
            tx.wipe()?;
            let epoch = if epoch == meta.epoch {
                epoch ^ 1
            } else {
                epoch
            };
            tx.set_token(
                epoch,
                &TokenRow {
                    uuid,
                    label: label.to_string(),
                    serial,
                    tmk_check,
                },
            )?;
            tx.set_tombstone_floor(generation)?;
            tx.put_principal(&PrincipalRow {
                name: SO.to_string(),
                m_cost_kib: kdf.m_cost_kib,
                t_cost: kdf.t_cost,
                p_cost: kdf.p_cost,
                salt: salt.to_vec(),
                wrapped_tmk,
                failed_logins: 0,
            })?;
            append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(tmk)
    }

    /// A principal's failed-login count (with its tries in flight whose process
    /// is gone, which count as failed) and KDF cost; `None` when it does not
    /// exist.
    pub fn principal(&self, name: &str) -> Result<Option<PrincipalInfo>> {
        if !valid_name(name) {
            return Ok(None);
        }
        let now = attempts::now_ms();
        self.read(|tx| {
            let Some(p) = tx.principal(name)? else {
                return Ok(None);
            };
            let (stale, _) = attempts::split(tx.login_attempts(name)?, now);
            let stale = u32::try_from(stale.len()).unwrap_or(u32::MAX);
            Ok(Some(PrincipalInfo {
                failed_logins: p.failed_logins.saturating_add(stale),
                kdf: row_kdf(&p),
            }))
        })
    }

    /// The names of all principals, sorted.
    pub fn principals(&self) -> Result<Vec<String>> {
        self.read(|tx| tx.principal_names())
    }

    /// Logs a principal in: returns the TMK its PIN unwraps.
    ///
    /// At `max_failures` failed tries the PIN is locked (`CKR_PIN_LOCKED`,
    /// without running the KDF). Each try is recorded durably as in flight
    /// before the KDF runs and counted after it (a success resets the count, a
    /// wrong PIN raises it); a try whose process died during the KDF counts as
    /// a failure ([`super::attempts`]). A try is admitted only while the
    /// failures plus the tries in flight stay below the limit; beyond it, it
    /// waits for one to end (`CKR_FUNCTION_FAILED` after
    /// [`super::attempts::WAIT_AT_MOST`]). A wrong PIN is `CKR_PIN_INCORRECT`,
    /// or `CKR_PIN_LOCKED` when this failure reached the limit. An unknown
    /// principal is `CKR_USER_PIN_NOT_INITIALIZED`. A PIN that unwraps its copy
    /// of the TMK when that TMK does not open the token's check value (a
    /// damaged meta row) is `CKR_DEVICE_ERROR`, logged, and not counted as a
    /// failure.
    pub fn unlock(&self, name: &str, pin: &[u8], max_failures: u32) -> Result<Tmk> {
        self.unlock_with_audit(name, pin, max_failures, None)
    }

    /// [`Store::unlock`] that leaves exactly one audit record of the try, made
    /// from `template` with the outcome's `rv` (and, on failure, the reason),
    /// durable before it returns. The outcome of a try that ran the KDF (right
    /// or wrong PIN) is recorded in the transaction that counts it, so that a
    /// wrong PIN costs the same writes as a right one; a refusal before the
    /// KDF is recorded in the lock-out check's transaction or on its own.
    pub(super) fn unlock_with_audit(
        &self,
        name: &str,
        pin: &[u8],
        max_failures: u32,
        template: Option<&AuditRecord>,
    ) -> Result<Tmk> {
        let mut recorded = false;
        let r = self.try_pin(name, pin, max_failures, template, &mut recorded);
        if let (Err(e), Some(t), false) = (&r, template, recorded) {
            self.append_audit(&[outcome_record(t, &Err(e))])?;
        }
        r
    }

    /// The lock-out check, the KDF and the count of [`Store::unlock_with_audit`];
    /// sets `recorded` when the outcome's record was committed.
    fn try_pin(
        &self,
        name: &str,
        pin: &[u8],
        max_failures: u32,
        template: Option<&AuditRecord>,
        recorded: &mut bool,
    ) -> Result<Tmk> {
        if !valid_name(name) {
            return Err(Error::UserPinNotInitialized);
        }
        let (row, uuid, epoch, attempt) = self.admit(name, max_failures, template, recorded)?;
        // The slow part, with no lock held. The only comparison is the GCM tag
        // check, which is constant-time.
        let tmk = match derive_kek(pin, &row.salt, &row_kdf(&row)) {
            Ok(kek) => unwrap_key(&kek, &wrap_aad(&uuid, name), &row.wrapped_tmk).ok(),
            Err(e) => {
                // Not a try at the PIN: take the row back uncounted.
                let _ = self.write(|tx, _, _| tx.delete_login_attempt(attempt));
                return Err(e);
            }
        };
        let outcome = self.count_try(
            name,
            max_failures,
            (attempt, uuid, epoch),
            tmk.as_ref(),
            template,
        )?;
        *recorded = template.is_some();
        match (outcome, tmk) {
            (Ok(()), Some(tmk)) => Ok(tmk),
            (Err(e @ Error::Device(_)), _) => {
                ::log::error!(
                    "{}: the master key unwrapped by {name:?}'s PIN does not open the token's \
                     check value: the file's meta row is damaged",
                    self.path.display()
                );
                Err(e)
            }
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err(Error::General("login outcome without a key".into())),
        }
    }

    /// The transaction after the KDF: removes the try's row and counts its
    /// outcome (`tmk`: what the PIN unwrapped, `None` for a wrong PIN), with
    /// the outcome's audit record. `try_` is the try's row id and the token's
    /// uuid and epoch when it started.
    pub(super) fn count_try(
        &self,
        name: &str,
        max_failures: u32,
        try_: (i64, [u8; 16], u64),
        tmk: Option<&Tmk>,
        template: Option<&AuditRecord>,
    ) -> Result<Result<()>> {
        let (attempt, uuid, epoch) = try_;
        let (outcome, _) = self.write(|tx, meta, _| {
            // Gone: a lock-out check took this try for dead and counted it.
            let mine = tx.delete_login_attempt(attempt)?;
            let token = meta
                .token
                .as_ref()
                .filter(|t| t.uuid == uuid && meta.epoch == epoch);
            let outcome = match (token, tmk) {
                // Re-initialized while the KDF ran: this PIN was for the old token.
                (None, _) => Err(Error::PinIncorrect),
                (Some(_), None) => {
                    let now = tx.principal(name)?.map_or(0, |p| p.failed_logins);
                    let failed = if mine { now.saturating_add(1) } else { now };
                    if mine {
                        tx.set_failed_logins(name, failed)?;
                    }
                    Err(if failed >= max_failures {
                        Error::PinLocked
                    } else {
                        Error::PinIncorrect
                    })
                }
                // The PIN opened its wrapped TMK (an authenticated decryption),
                // so the PIN is right and the token's check value is damaged:
                // not a failed login; nothing else changes.
                (Some(token), Some(tmk)) if Keys::for_token(tmk, token).is_err() => Err(
                    Error::Device("token check value does not open (damaged meta row)".into()),
                ),
                (Some(_), Some(_)) => {
                    if tx.set_failed_logins(name, 0)? {
                        Ok(())
                    } else {
                        Err(Error::UserPinNotInitialized)
                    }
                }
            };
            if let Some(t) = template {
                append_in_tx(tx, &[outcome_record(t, &outcome.as_ref().map(|_| ()))])?;
            }
            Ok(outcome)
        })?;
        Ok(outcome)
    }

    /// The lock-out check before the KDF: counts the stale tries in flight as
    /// failures, refuses a locked PIN, waits while the failures plus the live
    /// tries are at the limit, and records this try as in flight. Returns the
    /// principal's row, the token's uuid and epoch, and the try's row id.
    pub(super) fn admit(
        &self,
        name: &str,
        max_failures: u32,
        template: Option<&AuditRecord>,
        recorded: &mut bool,
    ) -> Result<(PrincipalRow, [u8; 16], u64, i64)> {
        let deadline = Instant::now() + attempts::WAIT_AT_MOST;
        loop {
            let now = attempts::now_ms();
            let (admission, _) = self.write(|tx, meta, _| {
                let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
                let p = tx.principal(name)?.ok_or(Error::UserPinNotInitialized)?;
                let (stale, live) = attempts::split(tx.login_attempts(name)?, now);
                let mut failed = p.failed_logins;
                for a in &stale {
                    tx.delete_login_attempt(a.id)?;
                    failed = failed.saturating_add(1);
                }
                if !stale.is_empty() {
                    tx.set_failed_logins(name, failed)?;
                }
                if failed >= max_failures {
                    if let Some(t) = template {
                        append_in_tx(tx, &[outcome_record(t, &Err(&Error::PinLocked))])?;
                    }
                    return Ok(Admission::Locked);
                }
                if row_kdf(&p).validate().is_err() {
                    return Err(Error::TokenNotRecognized(format!(
                        "principal {name:?} has bad KDF parameters"
                    )));
                }
                let in_flight = u32::try_from(live.len()).unwrap_or(u32::MAX);
                if failed.saturating_add(in_flight) >= max_failures {
                    return Ok(Admission::Full);
                }
                let id = tx.add_login_attempt(&attempts::this_try(name))?;
                Ok(Admission::Go(p, token.uuid, meta.epoch, id))
            })?;
            match admission {
                Admission::Go(p, uuid, epoch, id) => return Ok((p, uuid, epoch, id)),
                Admission::Locked => {
                    *recorded = template.is_some();
                    return Err(Error::PinLocked);
                }
                Admission::Full => {
                    if Instant::now() >= deadline {
                        ::log::warn!(
                            "{}: {name:?}: too many PIN tries in flight for {:?}",
                            self.path.display(),
                            attempts::WAIT_AT_MOST
                        );
                        return Err(Error::FunctionFailed);
                    }
                    self.wait_for_room(name, max_failures, deadline)?;
                }
            }
        }
    }

    /// Waits (reading only) until a try in flight of `name` has ended or gone
    /// stale, or `deadline` passes.
    fn wait_for_room(&self, name: &str, max_failures: u32, deadline: Instant) -> Result<()> {
        while Instant::now() < deadline {
            std::thread::sleep(attempts::POLL);
            let now = attempts::now_ms();
            let busy = self.read(|tx| {
                let Some(p) = tx.principal(name)? else {
                    return Ok(false);
                };
                let (stale, live) = attempts::split(tx.login_attempts(name)?, now);
                let count = |v: &Vec<_>| u32::try_from(v.len()).unwrap_or(u32::MAX);
                let failed = p.failed_logins.saturating_add(count(&stale));
                // Still full, and not locked (a lock is recorded by `admit`).
                Ok(failed < max_failures && failed.saturating_add(count(&live)) >= max_failures)
            })?;
            if !busy {
                break;
            }
        }
        Ok(())
    }

    /// Raises the Argon2id cost of a principal's PIN to `kdf` after a successful
    /// login with `pin` (which gave `tmk`): a new salt, a KEK derived at the new
    /// cost, the TMK re-wrapped, in one transaction. Returns whether it did.
    ///
    /// Nothing happens unless `kdf` is at least the stored cost in every
    /// parameter and above it in memory or passes ([`kdf_raises`]): a cost is never lowered,
    /// and a mixed change (more memory, fewer passes) waits for the next PIN
    /// change. The PIN is checked again against the row as it is now (one KDF
    /// at the stored, lower cost), and the write happens only if the row has not
    /// changed since: a PIN set by another process in between is never
    /// overwritten with the old PIN. This check does not count failures, so
    /// `tmk` must open this token (`CKR_USER_NOT_LOGGED_IN` otherwise): only a
    /// caller that is logged in already can use it.
    pub fn raise_kdf(&self, name: &str, pin: &[u8], tmk: &Tmk, kdf: &KdfParams) -> Result<bool> {
        if !valid_name(name) {
            return Ok(false);
        }
        kdf.validate()?;
        let Some((row, uuid)) = self.read(|tx| {
            let meta = tx.meta()?;
            let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
            Keys::for_token(tmk, token)?;
            Ok(tx.principal(name)?.map(|p| (p, token.uuid)))
        })?
        else {
            return Ok(false);
        };
        if !kdf_raises(&row_kdf(&row), kdf) || row_kdf(&row).validate().is_err() {
            return Ok(false);
        }
        let aad = wrap_aad(&uuid, name);
        let old = derive_kek(pin, &row.salt, &row_kdf(&row))?;
        if unwrap_key(&old, &aad, &row.wrapped_tmk).is_err() {
            return Ok(false);
        }
        drop(old);
        let (salt, kek) = new_kek(pin, kdf)?;
        let wrapped_tmk = wrap_key(&kek, &aad, tmk)?;
        let (done, _) = self.write_keyed(Some(tmk), |tx, meta, _| {
            let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
            let Some(now) = tx.principal(name)? else {
                return Ok(false);
            };
            if token.uuid != uuid || now.salt != row.salt || now.wrapped_tmk != row.wrapped_tmk {
                return Ok(false);
            }
            Keys::for_token(tmk, token)?;
            tx.put_principal(&PrincipalRow {
                name: name.to_string(),
                m_cost_kib: kdf.m_cost_kib,
                t_cost: kdf.t_cost,
                p_cost: kdf.p_cost,
                salt: salt.to_vec(),
                wrapped_tmk,
                failed_logins: now.failed_logins,
            })?;
            Ok(true)
        })?;
        Ok(done)
    }

    /// Creates or replaces a principal's PIN: wraps `tmk` under the new PIN (O(1):
    /// nothing else is re-encrypted) and resets its failed count. For "user" this
    /// sets the user PIN. `tmk` must be this token's TMK (`CKR_USER_NOT_LOGGED_IN`
    /// otherwise); a name that is empty or longer than 64 bytes is
    /// `CKR_ARGUMENTS_BAD`.
    pub fn set_pin(&self, name: &str, tmk: &Tmk, new_pin: &[u8], kdf: &KdfParams) -> Result<()> {
        self.set_pin_with_audit(name, tmk, new_pin, kdf, &[])
    }

    /// [`Store::set_pin`] that also appends `audit` in the same transaction.
    pub(super) fn set_pin_with_audit(
        &self,
        name: &str,
        tmk: &Tmk,
        new_pin: &[u8],
        kdf: &KdfParams,
        audit: &[AuditRecord],
    ) -> Result<()> {
        if !valid_name(name) {
            return Err(Error::ArgumentsBad);
        }
        let (salt, kek) = new_kek(new_pin, kdf)?;
        self.write_keyed(Some(tmk), |tx, meta, _| {
            let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
            Keys::for_token(tmk, token)?;
            let wrapped_tmk = wrap_key(&kek, &wrap_aad(&token.uuid, name), tmk)?;
            tx.put_principal(&PrincipalRow {
                name: name.to_string(),
                m_cost_kib: kdf.m_cost_kib,
                t_cost: kdf.t_cost,
                p_cost: kdf.p_cost,
                salt: salt.to_vec(),
                wrapped_tmk,
                failed_logins: 0,
            })?;
            // A new PIN starts with a clean slate: tries at the old one in
            // flight are not counted against it.
            tx.delete_login_attempts(name)?;
            append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(())
    }

    /// Removes a principal (nothing happens when it does not exist). The SO cannot
    /// be removed (`CKR_ACTION_PROHIBITED`).
    pub fn remove_principal(&self, name: &str) -> Result<()> {
        self.remove_principal_with_audit(name, &[])
    }

    /// [`Store::remove_principal`] that also appends `audit` in the same transaction.
    pub(super) fn remove_principal_with_audit(
        &self,
        name: &str,
        audit: &[AuditRecord],
    ) -> Result<()> {
        if name == SO {
            return Err(Error::ActionProhibited);
        }
        if !valid_name(name) {
            return Ok(());
        }
        self.write(|tx, _, _| {
            tx.delete_principal(name)?;
            tx.delete_login_attempts(name)?;
            append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(())
    }
}
