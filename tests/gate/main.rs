//! The key gate (issue 12, DESIGN §1 "The gate", §6): every path that touches
//! a key × every reason to refuse it, through the built module.
//!
//! One row per path, with the key kind it takes, the usage attribute and
//! policy action that govern it, a preparation made by the owner while the key
//! is still usable (a ciphertext, a signature, a wrapped key, a helper key) and
//! a closure that performs the use. One column per reason, with a setup that
//! makes the key fail that way. Each cell gets a fresh key; every refused cell
//! must return the column's code, change nothing the session can see (objects,
//! attribute values, key state) and leave exactly one audit record of the
//! refused call, with that code and a reason (`audit = "per-call"`). The two
//! control columns show that each row's use works for the owner and for a
//! principal the policy allows, so a refusal is the column's doing.
//! Lifecycle states do not refuse management (set-attribute, destroy): those
//! cells must work. One test per column, so the run names the failing reasons;
//! each lists every failing row.
//!
//! The rows (the paths, with their preparations and uses) are in `rows.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/gate.rs"]
mod gate;
mod rows;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use gate::*;
use rows::rows;

/// What a row's preparation leaves for its use.
#[derive(Default)]
struct Prep {
    /// The other key of the call (the key to wrap, the wrapping key, the HKDF base key).
    helper: Option<ObjectHandle>,
    /// A ciphertext, signature or wrapped key made while the key was usable.
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
}

type PrepFn = fn(&Session, ObjectHandle, &[u8]) -> Prep;
type UseFn = fn(&Session, ObjectHandle, &Prep, &[u8]) -> Result<(), Fail>;

/// One path that touches a key.
struct Row {
    name: &'static str,
    kind: Kind,
    /// The usage attribute that governs it (`CKA_EXTRACTABLE` for a wrapped key).
    usage: Option<CK_ATTRIBUTE_TYPE>,
    /// The mechanism, for `CKA_ALLOWED_MECHANISMS`.
    mech: Option<MechanismType>,
    /// The policy action it needs.
    action: &'static str,
    /// The call that is refused.
    function: &'static str,
    /// Management: lifecycle states do not refuse it.
    management: bool,
    /// Whether the call carries an encryption context.
    context: bool,
    /// Below the minimum decryption version: the call that fails and its code.
    below_min: Option<(&'static str, RvError)>,
    prep: PrepFn,
    run: UseFn,
}

/// `C_Encrypt` of `data` in the operation the caller started.
fn raw_encrypt(s: &Session, data: &[u8]) -> Result<(), Fail> {
    Raw3::new()
        .encrypt(s, data)
        .map(drop)
        .map_err(|rv| ("C_Encrypt", rv_error(rv)))
}

/// `C_Decrypt` of `data` in the operation the caller started (`cryptoki`'s
/// `decrypt` would start another).
fn raw_decrypt(s: &Session, data: &[u8]) -> Result<(), Fail> {
    let raw = Raw3::new();
    raw.decrypt(s, data)
        .map(drop)
        .map_err(|rv| ("C_Decrypt", rv_error(rv)))
}

/// One reason to refuse (or a control).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    /// The owner, nothing wrong: the use works.
    OwnerWorks,
    /// A principal the policy allows: the use works.
    PrincipalWorks,
    UsageFalse,
    MechanismNotAllowed,
    Disabled,
    PendingDeletion,
    PendingImport,
    BelowMinDecryptVersion,
    PolicyDenies,
    ContextUnmet,
}

/// What a cell expects.
enum Expect {
    NotApplicable,
    Works,
    Refused(&'static str, RvError),
}

fn expect(row: &Row, col: Col) -> Expect {
    let kfnp = RvError::KeyFunctionNotPermitted;
    match col {
        Col::OwnerWorks | Col::PrincipalWorks => Expect::Works,
        Col::UsageFalse => match row.usage {
            Some(CKA_EXTRACTABLE) => Expect::Refused(row.function, RvError::KeyUnextractable),
            Some(_) => Expect::Refused(row.function, kfnp),
            None => Expect::NotApplicable,
        },
        Col::MechanismNotAllowed => match row.mech {
            Some(_) => Expect::Refused(row.function, kfnp),
            None => Expect::NotApplicable,
        },
        Col::Disabled | Col::PendingDeletion | Col::PendingImport => {
            if row.management {
                Expect::Works
            } else {
                Expect::Refused(row.function, kfnp)
            }
        }
        Col::BelowMinDecryptVersion => match row.below_min {
            Some((f, code)) => Expect::Refused(f, code),
            None => Expect::NotApplicable,
        },
        Col::PolicyDenies => Expect::Refused(row.function, kfnp),
        Col::ContextUnmet if row.context => Expect::Refused(row.function, kfnp),
        Col::ContextUnmet => Expect::NotApplicable,
    }
}

/// A mechanism list that leaves out every row's mechanism for `kind`.
fn other_mechanism(kind: Kind) -> MechanismType {
    match kind {
        Kind::Managed | Kind::Exportable => MechanismType::AES_CBC_PAD,
        Kind::Hmac | Kind::Secret => MechanismType::SHA512_HMAC,
        Kind::Ec => MechanismType::ECDSA,
    }
}

struct Matrix {
    ctx: Ctx,
    raw: Raw3,
    /// The session that holds the login (PKCS#11 logins are the application's).
    login: Session,
    /// The last audit record seen.
    seen: std::cell::Cell<u64>,
}

impl Matrix {
    fn new() -> Matrix {
        let ctx = Ctx::with_config(1, "audit = \"per-call\"");
        let slot = ctx.init_token(0);
        add_principal(&ctx, slot, ALICE, ALICE_PIN);
        let login = ctx.user_session(0);
        Matrix {
            raw: Raw3::new(),
            ctx,
            login,
            seen: std::cell::Cell::new(audit_head()),
        }
    }

    /// Runs one cell; `Err` says what is wrong with it.
    fn cell(&self, row: &Row, col: Col, i: usize) -> Result<(), String> {
        let want = expect(row, col);
        if matches!(want, Expect::NotApplicable) {
            return Ok(());
        }
        become_(&self.raw, &self.login, Who::Owner);
        set_clock(0);
        let s = self.ctx.p11.open_rw_session(self.ctx.slot(0)).unwrap();
        let label = format!("{} {col:?} {i}", row.name);
        let context = if col == Col::ContextUnmet {
            HR
        } else {
            BILLING
        };
        // The key, failing the column's way where that is fixed at creation.
        let mut extra = vec![];
        match col {
            Col::UsageFalse => extra.push(usage_off(row.usage.unwrap())),
            // CKA_ALLOWED_MECHANISMS is fixed at creation.
            Col::MechanismNotAllowed => {
                extra.push(Attribute::AllowedMechanisms(vec![other_mechanism(
                    row.kind,
                )]))
            }
            Col::PendingImport => extra.push(ulong_attr(VALID_TO, now() + 3600)),
            Col::PolicyDenies => extra.push(policy_attr(&all_but(ALICE, row.action))),
            Col::ContextUnmet => extra.push(policy_attr(&policy(&[
                (&["user"], &["*"], None),
                (&[ALICE], &["*"], Some(BILLING)),
            ]))),
            Col::PrincipalWorks => extra.push(policy_attr(&open_policy(ALICE))),
            _ => {}
        }
        let mut k = if col == Col::BelowMinDecryptVersion {
            generated_managed(&s, &label, &extra)
        } else {
            make_key(&s, row.kind, &label, &extra)
        };
        // The preparation needs the mechanism the key may not use: a twin
        // key (same kind and material) makes it; the refusal comes first.
        let prep = if col == Col::MechanismNotAllowed {
            let twin = make_key(&s, row.kind, &format!("{label} twin"), &[]);
            (row.prep)(&s, twin, context)
        } else {
            (row.prep)(&s, k, context)
        };
        let mut prep = prep;
        // The rest of the column's setup, now that the preparation is made.
        let setup: cryptoki::error::Result<()> = match col {
            Col::Disabled => s.update_attributes(k, &[ulong_attr(KEY_STATE, DISABLED)]),
            Col::PendingDeletion => s.update_attributes(
                k,
                &[
                    ulong_attr(KEY_STATE, PENDING_DELETION),
                    ulong_attr(PENDING_WINDOW, 7),
                ],
            ),
            Col::BelowMinDecryptVersion => s
                .update_attributes(k, &[bool_attr(ROTATE, true)])
                .and_then(|()| s.update_attributes(k, &[ulong_attr(MIN_DECRYPT_VERSION, 2)])),
            Col::PendingImport => {
                // Past the expiry; the first use moves the key to PendingImport
                // (management works on it: no trigger needed).
                set_clock(7200);
                if !row.management {
                    let _ = (row.run)(&s, k, &prep, context);
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = setup {
            return Err(format!("setup failed: {e}"));
        }
        let who = match col {
            Col::PolicyDenies | Col::ContextUnmet | Col::PrincipalWorks => Who::Alice,
            _ => Who::Owner,
        };
        // Handles of private objects do not survive the switch (§5.6).
        let mut keys: Vec<&mut ObjectHandle> = vec![&mut k];
        if let Some(h) = prep.helper.as_mut() {
            keys.push(h);
        }
        become_with(&self.raw, &self.login, who, &mut keys);
        // The use runs in a session of its own: its audit records are the
        // ones of that session after the last record seen.
        let u = self.ctx.p11.open_rw_session(self.ctx.slot(0)).unwrap();
        let before = snapshot(&u);
        let got = (row.run)(&u, k, &prep, context);
        let r = match want {
            Expect::NotApplicable => Ok(()),
            Expect::Works => got.map_err(|(f, rv)| format!("{f} failed: {rv:?}")),
            Expect::Refused(function, code) => match got {
                Ok(()) => Err(format!("worked; want {function} to refuse with {code:?}")),
                Err((f, rv)) if (f, rv) != (function, code) => {
                    Err(format!("{f} gave {rv:?}; want {function} with {code:?}"))
                }
                Err(_) => {
                    let mut bad = diff(&before, &snapshot(&u));
                    let (records, last) = session_records_since(self.seen.get(), &u);
                    self.seen.set(last);
                    bad.extend(check_refusal_records(&records, function, ck(code)));
                    if bad.is_empty() {
                        Ok(())
                    } else {
                        Err(bad.join("; "))
                    }
                }
            },
        };
        set_clock(0);
        drop(u);
        drop(s);
        r
    }
}

/// Runs the column for every row; fails naming each wrong cell.
fn column(col: Col) {
    let m = Matrix::new();
    let mut bad = Vec::new();
    for (i, row) in rows().iter().enumerate() {
        if let Err(why) = m.cell(row, col, i) {
            bad.push(format!("  [{} × {col:?}] {why}", row.name));
        }
    }
    become_(&m.raw, &m.login, Who::Owner);
    assert!(
        bad.is_empty(),
        "{} cells wrong:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn control_the_owner_may_use_every_path() {
    column(Col::OwnerWorks);
}

#[test]
fn control_a_principal_the_policy_allows_may_use_every_path() {
    column(Col::PrincipalWorks);
}

#[test]
fn usage_attribute_false() {
    column(Col::UsageFalse);
}

#[test]
fn mechanism_not_in_allowed_mechanisms() {
    column(Col::MechanismNotAllowed);
}

#[test]
fn disabled_key() {
    column(Col::Disabled);
}

#[test]
fn pending_deletion_key() {
    column(Col::PendingDeletion);
}

#[test]
fn pending_import_key_expired_material() {
    column(Col::PendingImport);
}

#[test]
fn below_the_minimum_decryption_version() {
    column(Col::BelowMinDecryptVersion);
}

#[test]
fn policy_denies_the_principal() {
    column(Col::PolicyDenies);
}

#[test]
fn encryption_context_condition_unmet() {
    column(Col::ContextUnmet);
}
