//! The module's side of the key gate (`crate::gate`): a key of a call is
//! looked up, admitted for one use, and the outcome recorded.

use super::Module;
use crate::error::{Error, Result};
use crate::gate::{self, Granted, Request, Use};
use crate::kms::policy;
use crate::mechanism::{registry, KeyLookup, Mechanism, MechanismDef};
use crate::object::Object;
use crate::token::Token;
use cryptoki_sys::*;

impl Module {
    /// Uses the key `handle` for `what` with `mech`: through the key gate,
    /// then `f` with the grant; the call's outcome is audited as `function`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn use_key<T>(
        &self,
        tok: &Token,
        h: CK_SESSION_HANDLE,
        function: &'static str,
        def: &MechanismDef,
        mech: &Mechanism,
        handle: CK_OBJECT_HANDLE,
        what: Use,
        invalid: Error,
        f: impl FnOnce(&Granted) -> Result<T>,
    ) -> Result<T> {
        let req = Request {
            handle,
            what,
            mech: mech.mech,
            key_types: def.key_types,
            context: mech.param.context(),
            // Message-based functions take their IV per message, where the
            // mechanism applies the gate's decision (`Granted::may_choose_iv`).
            caller_iv: registry::caller_chooses_iv(mech.mech) && !function.starts_with("C_Message"),
            invalid,
        };
        gate::using(tok, h, function, std::slice::from_ref(&req), |g| match g {
            [g] => f(g),
            _ => Err(Error::General(
                "the gate granted another number of keys".into(),
            )),
        })
    }

    /// `C_DeriveKey`'s use of its base key and of every key its parameter
    /// names, all through the key gate at once, then `f` with the base key's
    /// grant and the others' (one audit record for a refused or failed call).
    pub(super) fn derive_with<T>(
        &self,
        tok: &Token,
        h: CK_SESSION_HANDLE,
        def: &MechanismDef,
        mech: &mut Mechanism,
        base: CK_OBJECT_HANDLE,
        f: impl FnOnce(&mut Mechanism, &Granted, &SessionKeys) -> Result<T>,
    ) -> Result<T> {
        let named = mech.param.named_keys();
        let context = mech.param.context().to_vec();
        let mut reqs = vec![Request {
            handle: base,
            what: Use::Derive,
            mech: mech.mech,
            key_types: def.key_types,
            context: &context,
            caller_iv: registry::caller_chooses_iv(mech.mech),
            invalid: Error::KeyHandleInvalid,
        }];
        reqs.extend(named.iter().map(|k| Request {
            handle: *k,
            what: Use::Derive,
            mech: mech.mech,
            key_types: &[],
            context: &[],
            caller_iv: false,
            invalid: Error::KeyHandleInvalid,
        }));
        gate::using(tok, h, "C_DeriveKey", &reqs, |all| {
            let (base, rest) = all
                .split_first()
                .ok_or(Error::General("the gate granted no base key".into()))?;
            let lookup = SessionKeys {
                granted: named.iter().copied().zip(rest.iter().cloned()).collect(),
            };
            f(mech, base, &lookup)
        })
    }

    /// The key policy: may whoever is logged in do `action` with `key`?
    pub(super) fn check_policy(
        &self,
        tok: &Token,
        h: CK_SESSION_HANDLE,
        key: &Object,
        action: policy::Action,
    ) -> Result<()> {
        let principal = tok.state.read().principal(h).to_string();
        gate::check_policy(key, &principal, action, &[])
    }

    /// Records a refused management call on a key (durably, before it returns).
    pub(super) fn audit_denial(
        &self,
        tok: &Token,
        function: &str,
        h: CK_SESSION_HANDLE,
        key: &Object,
        e: &Error,
    ) {
        if let Ok(store) = tok.store() {
            let rec = self
                .rec(tok, function, h)
                .with_key(key.unique_id(), None)
                .with_rv(e.rv())
                .with_reason(&e.to_string());
            if let Err(err) = tok.auditor.management(&store, &[rec]) {
                log::error!("audit: cannot record a refused {function}: {err}");
            }
        }
    }
}

/// The keys a derive mechanism's parameter names, as the key gate granted them
/// before the mechanism ran; it hands out no other.
pub(super) struct SessionKeys {
    pub(super) granted: Vec<(CK_OBJECT_HANDLE, Granted)>,
}

impl KeyLookup for SessionKeys {
    fn key(&self, handle: CK_OBJECT_HANDLE) -> Result<Granted> {
        self.granted
            .iter()
            .find(|(h, _)| *h == handle)
            .map(|(_, g)| g.clone())
            .ok_or_else(|| {
                log::error!("a mechanism asked for key {handle} its parameter does not name");
                Error::KeyHandleInvalid
            })
    }
}
