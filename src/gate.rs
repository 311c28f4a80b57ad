//! The key gate: the only code that turns a key handle into usable key material
//! (DESIGN §1 "The gate", `docs/kms.md` "The key gate").
//!
//! Every use of a key — the key of an operation, a wrapping key and the key it
//! wraps, an unwrapping key, a derive base key, a key named inside a mechanism
//! parameter (HKDF's salt key), `C_DigestKey`, `C_CopyObject` — asks [`admit`].
//! For each use it checks, in this order:
//!
//! 1. the handle: an object this session can see (`invalid` otherwise);
//! 2. the object class and key type the use and the mechanism take;
//! 3. the usage attribute (`CKA_ENCRYPT` …) and `CKA_ALLOWED_MECHANISMS`;
//! 4. the key policy for the principal logged in, with the call's encryption
//!    context;
//! 5. the IV rule: a principal that may not undo a use (decrypt what it
//!    encrypts, unwrap what it wraps) cannot choose the IV, counter or nonce of
//!    the use, nor use the bare block cipher (ECB), since that would let it
//!    compute the key stream of other people's ciphertexts;
//! 6. the lifecycle: state, expired imported material, a due rotation (made
//!    now), a due deletion (made now), and the minimum decryption version;
//!
//! and records the outcome, accepted or refused with its reason and code, in
//! the audit log. What it hands out is a [`Granted`]: the key as the use may
//! see it. Its fields are private to this module and it has no public
//! constructor, so a mechanism, which takes `&Granted`, cannot be reached with
//! key material that skipped the gate.
//!
//! **Key separation.** A managed key's version material is used directly only
//! by the envelope mechanisms (which wrap data keys with it,
//! `docs/envelope-format.md`). Every other family sees a key derived from it
//! with HKDF-SHA256 and a label of its own (raw ciphers, raw key wrapping, MACs,
//! derivation), so that no permission over one family yields another's
//! ciphertexts: raw `CKM_AES_GCM` under a managed key never produces the key
//! stream that wrapped an envelope's data key, and `C_UnwrapKey` never opens a
//! `C_Encrypt` ciphertext.

use crate::abi::{
    CKA_SOFTKMS_CREATOR, CKA_SOFTKMS_CURRENT_VERSION, CKA_SOFTKMS_VERSIONS, CKM_SOFTKMS_ENVELOPE,
    CKM_SOFTKMS_GENERATE_DATA_KEY,
};
use crate::clock;
use crate::error::{Error, Result};
use crate::kms::lifecycle::{self, UseCheck};
use crate::kms::policy::{self, Action};
use crate::object::rules;
use crate::object::Object;
use crate::store::audit::AuditRecord;
use crate::store::MAX_CONFLICT_RETRIES;
pub(crate) use crate::token::iv::IvSource;
use crate::token::{protect_key_material, Login, Token, USER};
use cryptoki_sys::*;
use once_cell::sync::OnceCell;
use std::any::Any;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a call does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// `C_EncryptInit`, `C_MessageEncryptInit`.
    Encrypt,
    /// `C_DecryptInit`, `C_MessageDecryptInit`.
    Decrypt,
    /// `C_SignInit`.
    Sign,
    /// `C_VerifyInit`.
    Verify,
    /// The wrapping key of `C_WrapKey`.
    Wrap,
    /// The wrapping key of a `CKM_SOFTKMS_ENVELOPE` `C_WrapKey` whose wrapped
    /// key the module generated in a session (`CKA_LOCAL`, not a token
    /// object): a fresh data key or data key pair, whose plaintext the caller
    /// did not choose. It needs `GenerateDataKey` (as AWS KMS's
    /// `GenerateDataKeyPair`) or `Encrypt`.
    WrapGenerated,
    /// The unwrapping key of `C_UnwrapKey`.
    Unwrap,
    /// The base key of `C_DeriveKey`, or a key named in its parameter.
    Derive,
    /// `C_DigestKey`.
    DigestKey,
    /// The key that `C_WrapKey` wraps (its material leaves the token).
    Export,
    /// The source of `C_CopyObject`.
    Copy,
    /// `C_GetAttributeValue` of a key's material (`CKA_VALUE` of a
    /// non-sensitive key): its value leaves the token in clear.
    Read,
    /// The public key of `C_EncapsulateKey` (PKCS#11 3.2).
    Encapsulate,
    /// The private key of `C_DecapsulateKey` (PKCS#11 3.2).
    Decapsulate,
}

impl Use {
    /// The usage attribute that must be TRUE, if the use has one.
    fn usage(self) -> Option<CK_ATTRIBUTE_TYPE> {
        match self {
            Use::Encrypt => Some(CKA_ENCRYPT),
            Use::Decrypt => Some(CKA_DECRYPT),
            Use::Sign => Some(CKA_SIGN),
            Use::Verify => Some(CKA_VERIFY),
            Use::Wrap | Use::WrapGenerated => Some(CKA_WRAP),
            Use::Unwrap => Some(CKA_UNWRAP),
            Use::Derive => Some(CKA_DERIVE),
            Use::Encapsulate => Some(CKA_ENCAPSULATE),
            Use::Decapsulate => Some(CKA_DECAPSULATE),
            Use::DigestKey | Use::Export | Use::Copy | Use::Read => None,
        }
    }

    /// The object classes the use takes.
    fn classes(self) -> &'static [CK_OBJECT_CLASS] {
        match self {
            Use::Encrypt | Use::Verify | Use::Wrap | Use::WrapGenerated => {
                &[CKO_SECRET_KEY, CKO_PUBLIC_KEY]
            }
            Use::Encapsulate => &[CKO_PUBLIC_KEY],
            Use::Decapsulate => &[CKO_PRIVATE_KEY],
            Use::Derive => &[CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_DATA],
            Use::DigestKey => &[CKO_SECRET_KEY],
            Use::Export | Use::Read => &[CKO_SECRET_KEY, CKO_PRIVATE_KEY],
            Use::Copy => &[CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY],
            Use::Decrypt | Use::Sign | Use::Unwrap => &[CKO_SECRET_KEY, CKO_PRIVATE_KEY],
        }
    }

    /// The error for an object of a class the use does not take.
    fn wrong_class(self) -> Error {
        match self {
            Use::DigestKey => Error::KeyIndigestible,
            Use::Export => Error::KeyNotWrappable,
            _ => Error::KeyTypeInconsistent,
        }
    }

    /// The policy action the use needs.
    fn action(self, mech: CK_MECHANISM_TYPE) -> Action {
        match self {
            Use::DigestKey => Action::DeriveKey,
            Use::Export | Use::Read => Action::ExportKey,
            Use::Copy => Action::ManageKey,
            Use::WrapGenerated => Action::GenerateDataKey,
            // Both sides of a key encapsulation make a new key from the key
            // pair, as a derivation does.
            Use::Encapsulate | Use::Decapsulate => Action::DeriveKey,
            u => policy::action_for(u.usage().unwrap_or(0), mech),
        }
    }

    /// The action that undoes this use, for the IV rule: whoever may encrypt
    /// but not decrypt must not pick IVs.
    fn inverse(self, mech: CK_MECHANISM_TYPE) -> Option<Action> {
        match self {
            Use::Encrypt => Some(Action::Decrypt),
            Use::Wrap => Some(Action::UnwrapKey),
            // The AES ENCRYPT_DATA derivations encrypt caller data.
            Use::Derive if self.action(mech) == Action::Encrypt => Some(Action::Decrypt),
            _ => None,
        }
    }

    /// Which material of a managed key the use sees.
    fn purpose(self, mech: CK_MECHANISM_TYPE) -> Purpose {
        if is_envelope(mech) {
            return Purpose::Envelope;
        }
        match self {
            Use::Encrypt | Use::Decrypt => Purpose::Cipher,
            Use::Sign | Use::Verify => Purpose::Mac,
            Use::Wrap | Use::WrapGenerated | Use::Unwrap => Purpose::Wrap,
            Use::Derive | Use::DigestKey | Use::Encapsulate | Use::Decapsulate => Purpose::Derive,
            Use::Export | Use::Copy | Use::Read => Purpose::Envelope,
        }
    }
}

/// The families that each see their own key derived from a managed key's
/// version material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The envelope mechanisms: the version material itself.
    Envelope,
    /// Raw `C_Encrypt*`/`C_Decrypt*` and the message-based functions.
    Cipher,
    /// Raw `C_WrapKey`/`C_UnwrapKey`.
    Wrap,
    /// `C_Sign*`/`C_Verify*` (CMAC, HMAC).
    Mac,
    /// `C_DeriveKey`, `C_DigestKey`.
    Derive,
}

impl Purpose {
    const ALL: [Purpose; 5] = [
        Purpose::Envelope,
        Purpose::Cipher,
        Purpose::Wrap,
        Purpose::Mac,
        Purpose::Derive,
    ];

    /// The HKDF info label (`None`: the material itself).
    fn label(self) -> Option<&'static [u8]> {
        match self {
            Purpose::Envelope => None,
            Purpose::Cipher => Some(b"softkms key purpose v1: cipher"),
            Purpose::Wrap => Some(b"softkms key purpose v1: wrap"),
            Purpose::Mac => Some(b"softkms key purpose v1: mac"),
            Purpose::Derive => Some(b"softkms key purpose v1: derive"),
        }
    }

    fn index(self) -> usize {
        Purpose::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// The envelope mechanisms, which use a managed key's version material itself.
fn is_envelope(mech: CK_MECHANISM_TYPE) -> bool {
    mech == CKM_SOFTKMS_ENVELOPE || mech == CKM_SOFTKMS_GENERATE_DATA_KEY
}

/// HKDF salt of the purpose keys.
const PURPOSE_SALT: &[u8] = b"softkms managed key purpose separation";

/// One version of a key as a use sees it.
struct KeyVersion {
    /// Its number.
    number: u32,
    /// For a managed key, this version's key for the use's purpose and what a
    /// mechanism parsed from it (an expanded AES key), made once. `None` for a
    /// key without versions: its key is its own `CKA_VALUE`, parsed into the
    /// object's own memo.
    derived: Option<Derived>,
}

/// A managed key version's key for one purpose.
struct Derived {
    secret: Zeroizing<Vec<u8>>,
    parsed: OnceCell<Arc<dyn Any + Send + Sync>>,
}

/// The versions of a managed key, per purpose, made once per object (an
/// object is immutable: a rotation makes a new one).
#[derive(Default)]
struct Views {
    by_purpose: [OnceCell<Arc<Vec<Arc<KeyVersion>>>>; 5],
}

/// A key use the gate accepted: the key, the versions the use may take, and
/// what the gate decided about it. Only [`admit`] makes one.
#[derive(Clone)]
pub struct Granted {
    /// The key object (its attributes; for a managed key, without a version's
    /// key in it).
    key: Arc<Object>,
    /// The versions the use may take, newest (current) first.
    versions: Arc<Vec<Arc<KeyVersion>>>,
    /// The key's `CKA_UNIQUE_ID`.
    uid: Arc<str>,
    /// The version new encryptions use.
    current: u32,
    /// The principal may choose IVs, counters and nonces under this key.
    may_choose_iv: bool,
    /// Where generated IV counters come from.
    ivs: Option<Arc<dyn IvSource>>,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted")
            .field("key", &self.uid)
            .field("versions", &self.versions.len())
            .field("current", &self.current)
            .finish()
    }
}

impl Granted {
    /// The key object: its attributes, and for a key pair its parsed form. A
    /// secret key's value is [`Granted::secret`], never this object's
    /// `CKA_VALUE` (a managed key's object has none).
    pub(crate) fn key(&self) -> &Arc<Object> {
        &self.key
    }

    /// The secret key of the version this grant uses first (the current one,
    /// or the one [`Granted::each_version`] or [`Granted::version`] chose): a
    /// managed key's version key for the use's purpose, else the key's
    /// `CKA_VALUE`.
    pub(crate) fn secret(&self) -> Result<&[u8]> {
        // `admit` never hands out a grant without a version.
        match &self.versions[0].derived {
            Some(d) => Ok(&d.secret),
            None => self
                .key
                .get(CKA_VALUE)
                .ok_or_else(|| Error::General("secret key object without CKA_VALUE".into())),
        }
    }

    /// What `make` parses from [`Granted::secret`] (an expanded AES key), made
    /// on first use and kept with the version (or the object) for later uses.
    /// `make` must return the same type every time.
    pub(crate) fn parsed<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<Arc<T>> {
        match &self.versions[0].derived {
            Some(d) => {
                let any = d.parsed.get_or_try_init(|| {
                    make(&d.secret).map(|t| Arc::new(t) as Arc<dyn Any + Send + Sync>)
                })?;
                Arc::clone(any)
                    .downcast::<T>()
                    .map_err(|_| Error::General("parsed key of another type".into()))
            }
            None => self
                .key
                .parsed(|o| make(o.get(CKA_VALUE).unwrap_or_default())),
        }
    }

    /// The key's `CKA_UNIQUE_ID`.
    pub(crate) fn key_id(&self) -> &str {
        &self.uid
    }

    /// The version new encryptions use.
    pub(crate) fn current_version(&self) -> u32 {
        self.current
    }

    /// The versions this use may take, newest first, each as its own grant
    /// (for decryption with the authenticated modes, which try them in turn).
    pub(crate) fn each_version(&self) -> impl Iterator<Item = Granted> + '_ {
        self.versions.iter().map(move |v| Granted {
            versions: Arc::new(vec![Arc::clone(v)]),
            ..self.clone()
        })
    }

    /// The grant narrowed to version `number`, if this use may take it.
    pub(crate) fn version(&self, number: u32) -> Option<Granted> {
        self.each_version().find(|g| g.versions[0].number == number)
    }

    /// Whether the principal may choose the IV, counter or nonce of this use
    /// (`false`: only module-generated ones).
    pub fn may_choose_iv(&self) -> bool {
        self.may_choose_iv
    }

    /// Where generated IV counters for this key come from.
    pub fn iv_source(&self) -> Option<&Arc<dyn IvSource>> {
        self.ivs.as_ref()
    }
}

#[cfg(test)]
impl Granted {
    /// A grant of `key` as it is, for the mechanisms' unit tests.
    pub(crate) fn for_tests(key: &Arc<Object>) -> Granted {
        Granted {
            key: Arc::clone(key),
            versions: Arc::new(vec![Arc::new(KeyVersion {
                number: 1,
                derived: None,
            })]),
            uid: Arc::from(key.unique_id()),
            current: 1,
            may_choose_iv: true,
            ivs: Some(crate::token::iv::local(key.unique_id())),
        }
    }
}

/// One request to use a key.
pub(crate) struct Request<'a> {
    /// The handle the caller named.
    pub handle: CK_OBJECT_HANDLE,
    /// What the call does with it.
    pub what: Use,
    /// The mechanism (0 for `C_CopyObject` and `C_DigestKey`).
    pub mech: CK_MECHANISM_TYPE,
    /// The key types the mechanism takes (empty: any).
    pub key_types: &'a [CK_KEY_TYPE],
    /// The call's encryption context (empty for most mechanisms).
    pub context: &'a [u8],
    /// The mechanism lets the caller choose the IV, counter or nonce, or is
    /// the bare block cipher.
    pub caller_iv: bool,
    /// The error for a handle that names no usable key.
    pub invalid: Error,
}

pub(crate) use crate::token::principal_name;

/// Whether a session logged in as `login` sees `obj`.
pub(crate) fn visible(login: &Login, obj: &Object) -> bool {
    !obj.is_private() || matches!(login, Login::User(_))
}

/// An object the session can see (`invalid` is the error for a bad handle).
pub(crate) fn lookup(tok: &Token, h: CK_OBJECT_HANDLE, invalid: Error) -> Result<Arc<Object>> {
    tok.refresh()?;
    let st = tok.state.read();
    match st.objects.get(h) {
        Some(o) if visible(&st.login, o) => Ok(Arc::clone(o)),
        _ => Err(invalid),
    }
}

/// Checks one use of a key, makes what the lifecycle makes due, records the
/// outcome in the audit log (as `function` of session `session`), and hands
/// out the key as the use may see it.
pub(crate) fn admit(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    function: &'static str,
    req: &Request<'_>,
) -> Result<Granted> {
    using(tok, session, function, std::slice::from_ref(req), |g| {
        g.first().cloned().ok_or(Error::General("no grant".into()))
    })
}

/// Checks every key one call uses (a wrapping key and the key it wraps, a base
/// key and the keys its parameter names), then runs the call's work `f` on the
/// grants, and records the call's outcome: one record for a refused or failed
/// call (the refused key's, or the first key's with `f`'s error), one per key
/// for a call that succeeded.
pub(crate) fn using<T>(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    function: &'static str,
    reqs: &[Request<'_>],
    f: impl FnOnce(&[Granted]) -> Result<T>,
) -> Result<T> {
    let mut granted = Vec::with_capacity(reqs.len());
    for req in reqs {
        let (r, seen) = check(tok, session, req);
        match r {
            Ok(g) => granted.push(g),
            Err(e) => {
                let seen = seen.as_deref();
                let uid = seen.map(Object::unique_id).unwrap_or_default();
                let version = seen.and_then(|k| k.get_ulong(CKA_SOFTKMS_CURRENT_VERSION));
                let ctx = req.context;
                record_use(
                    tok,
                    session,
                    function,
                    req.mech,
                    ctx,
                    uid,
                    version,
                    Some(&e),
                );
                return Err(e);
            }
        }
    }
    let r = f(&granted);
    for (i, (req, g)) in reqs.iter().zip(&granted).enumerate() {
        let version = Some(u64::from(g.current));
        let err = r.as_ref().err();
        if err.is_some() && i > 0 {
            break;
        }
        record_use(
            tok,
            session,
            function,
            req.mech,
            req.context,
            &g.uid,
            version,
            err,
        );
    }
    r
}

/// One use's checks, with the key as far as it was found (for the audit
/// record of a refusal).
fn check(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    req: &Request<'_>,
) -> (Result<Granted>, Option<Arc<Object>>) {
    let mut seen: Option<Arc<Object>> = None;
    let mut r = Err(Error::Conflict);
    // When another writer changed the key while a due rotation was being
    // written, every check is made again on the key as it is now: its usage
    // flags or its policy may have changed too.
    for _ in 0..MAX_CONFLICT_RETRIES {
        r = admit_once(tok, session, req, &mut seen);
        if !matches!(r, Err(Error::Conflict)) {
            break;
        }
    }
    (r, seen)
}

fn admit_once(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    req: &Request<'_>,
    seen: &mut Option<Arc<Object>>,
) -> Result<Granted> {
    let key = lookup(tok, req.handle, req.invalid.clone())?;
    *seen = Some(Arc::clone(&key));
    let class = key.class().unwrap_or(CK_UNAVAILABLE_INFORMATION);
    if !req.what.classes().contains(&class) {
        return Err(req.what.wrong_class());
    }
    if class != CKO_DATA && !req.key_types.is_empty() {
        let kt = key.key_type().unwrap_or(CK_UNAVAILABLE_INFORMATION);
        if !req.key_types.contains(&kt) {
            return Err(Error::KeyTypeInconsistent);
        }
    }
    if let Some(usage) = req.what.usage() {
        rules::check_key_use(&key, usage, req.mech)?;
    }
    if req.what == Use::Export && class != CKO_DATA && !key.flag(CKA_EXTRACTABLE, false) {
        return Err(Error::KeyUnextractable);
    }
    // The policy is checked before anything happens to the key (a due
    // rotation included): a denied use changes nothing.
    let st = tok.state.read();
    let principal = st.principal(session);
    let allowed = check_policy(&key, principal, req.what.action(req.mech), req.context);
    match allowed {
        // A fresh generated key wrapped under the key: GenerateDataKey, or
        // Encrypt, which may wrap any key.
        Err(_) if req.what == Use::WrapGenerated => {
            check_policy(&key, principal, Action::Encrypt, req.context).or(allowed)?;
        }
        r => r?,
    }
    let may_choose_iv = match req.what.inverse(req.mech) {
        Some(undo) if !is_envelope(req.mech) => {
            check_policy(&key, principal, undo, req.context).is_ok()
        }
        _ => true,
    };
    if req.caller_iv && !may_choose_iv {
        return Err(Error::KeyFunctionNotPermitted(format!(
            "{principal:?} may {} but not {} with this key, so it cannot choose the IV, counter or \
             nonce, nor use the bare block cipher: use message-based AES-GCM with a generated IV, or \
             the envelope mechanism",
            req.what.action(req.mech).name(),
            req.what.inverse(req.mech).map_or("?", Action::name),
        )));
    }
    drop(st);
    let key = usable(tok, session, key, &req.invalid)?;
    *seen = Some(Arc::clone(&key));
    let versions = views(&key, req.what.purpose(req.mech))?;
    if versions.is_empty() {
        return Err(Error::KeyFunctionNotPermitted(
            "the key has no version that may be used".into(),
        ));
    }
    // Only encryptions whose caller does not give the IV generate one
    // (message-based AES-GCM).
    let ivs = if req.what == Use::Encrypt && !req.caller_iv && req.mech == CKM_AES_GCM {
        tok.iv_source(&key)
    } else {
        None
    };
    Ok(Granted {
        uid: Arc::from(key.unique_id()),
        current: lifecycle::current_version(&key),
        key,
        versions,
        may_choose_iv,
        ivs,
    })
}

/// May `principal` do `action` with `key` (and this encryption context)? A
/// denial is `CKR_KEY_FUNCTION_NOT_PERMITTED` with the reason.
pub(crate) fn check_policy(
    key: &Object,
    principal: &str,
    action: Action,
    ctx: &[u8],
) -> Result<()> {
    if !matches!(
        key.class(),
        Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
    ) {
        return Ok(());
    }
    let parsed = policy::of(key)?;
    let creator = key
        .get(CKA_SOFTKMS_CREATOR)
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or(USER);
    policy::allows(parsed.get(), creator, principal, action, ctx).map_err(|why| {
        log::info!("key {}: {why}", key.unique_id());
        Error::KeyFunctionNotPermitted(why)
    })
}

/// The KMS check before any use of a key: its state, a due rotation (done
/// now), expired imported material (deleted now), a due deletion (done now).
fn usable(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    key: Arc<Object>,
    invalid: &Error,
) -> Result<Arc<Object>> {
    let now = clock::now_unix();
    match lifecycle::check_use(&key, now) {
        Ok(UseCheck::Ready) => Ok(key),
        Ok(UseCheck::Replace(attrs)) => replace(tok, session, &key, attrs, "automatic rotation"),
        Ok(UseCheck::ReplaceAndDeny(attrs, e)) => {
            replace(tok, session, &key, attrs, "imported material expired")?;
            log::info!("key {}: {e}", key.unique_id());
            Err(e)
        }
        Ok(UseCheck::Destroy) => {
            log::info!(
                "key {}: its scheduled deletion is due; destroyed",
                key.unique_id()
            );
            remove(tok, session, &key, "scheduled deletion")?;
            Err(invalid.clone())
        }
        Err(e) => {
            log::info!("key {}: {e}", key.unique_id());
            Err(e)
        }
    }
}

/// A management audit record for a lifecycle change the gate makes.
fn lifecycle_record(tok: &Token, session: CK_SESSION_HANDLE, why: &str) -> AuditRecord {
    let principal = tok.state.read().principal(session).to_string();
    AuditRecord::management("SoftKMS lifecycle", &principal, session).with_reason(why)
}

/// Replaces an object's attributes (in the file for a token object, with a
/// conditional write: `Error::Conflict` when `old` is no longer current).
fn replace(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    old: &Object,
    attrs: crate::object::AttrMap,
    why: &str,
) -> Result<Arc<Object>> {
    if old.is_token() {
        tok.update(old, attrs, &lifecycle_record(tok, session, why))
    } else {
        let o = Arc::new(Object::new(old.handle, old.session, attrs));
        protect_key_material(o.attrs());
        tok.state.write().objects.insert(Arc::clone(&o));
        Ok(o)
    }
}

/// Removes an object the KMS lifecycle found due for deletion, only if it is
/// still the version that was checked (`Error::Conflict` otherwise: another
/// writer may have cancelled the deletion).
pub(crate) fn remove(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    obj: &Object,
    why: &str,
) -> Result<()> {
    if obj.is_token() {
        tok.unpersist_if_current(obj, &lifecycle_record(tok, session, why))
    } else {
        tok.state.write().objects.remove(obj.handle);
        Ok(())
    }
}

/// The versions of `key` a use with `purpose` sees, newest first: for a key
/// without versions, one (its own value); for a managed key, each version that
/// still decrypts (at or above the minimum decryption version, material not
/// destroyed), with the purpose's key made from its material.
fn views(key: &Arc<Object>, purpose: Purpose) -> Result<Arc<Vec<Arc<KeyVersion>>>> {
    if key.get(CKA_SOFTKMS_VERSIONS).is_none() {
        let number = key
            .get_ulong(CKA_SOFTKMS_CURRENT_VERSION)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1);
        return Ok(Arc::new(vec![Arc::new(KeyVersion {
            number,
            derived: None,
        })]));
    }
    let memo = key.gate_memo(|| Ok(Views::default()))?;
    memo.by_purpose[purpose.index()]
        .get_or_try_init(|| {
            let mut out = Vec::new();
            for (number, material) in lifecycle::decrypt_versions(key)? {
                let secret = purpose_material(purpose, &material);
                crate::sys::protect(&secret);
                out.push(Arc::new(KeyVersion {
                    number,
                    derived: Some(Derived {
                        secret,
                        parsed: OnceCell::new(),
                    }),
                }));
            }
            Ok(Arc::new(out))
        })
        .cloned()
}

/// The key a purpose uses, from one version's material.
fn purpose_material(purpose: Purpose, material: &[u8]) -> Zeroizing<Vec<u8>> {
    use crate::crypto::hash::{hkdf_expand, hkdf_extract, HashAlg};
    match purpose.label() {
        None => Zeroizing::new(material.to_vec()),
        Some(label) => {
            let prk = hkdf_extract(HashAlg::Sha256, PURPOSE_SALT, material);
            // Material is at most 32 bytes (AES); HKDF-SHA256 makes up to 8160.
            hkdf_expand(HashAlg::Sha256, &prk, label, material.len())
                .unwrap_or_else(|| Zeroizing::new(Vec::new()))
        }
    }
}

/// Records one key use, accepted or refused (a data event: aggregated by
/// default, `docs/audit.md`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_use(
    tok: &Token,
    session: CK_SESSION_HANDLE,
    function: &'static str,
    mech: CK_MECHANISM_TYPE,
    context: &[u8],
    uid: &str,
    version: Option<u64>,
    err: Option<&Error>,
) {
    if tok.auditor.mode() == crate::config::AuditMode::Off {
        return;
    }
    let Ok(store) = tok.store_ref() else { return };
    let (rv, reason) = match err {
        None => (CKR_OK, String::new()),
        Some(e) => (e.rv(), e.to_string()),
    };
    let now = crate::kms::audit::now_ms();
    let event = |principal| crate::kms::audit::DataEvent {
        session,
        principal,
        function,
        mechanism: (mech != 0).then_some(mech),
        key_uid: uid,
        key_version: version,
        context: (!context.is_empty()).then_some(context),
        rv,
        reason: &reason,
    };
    // Borrowed: aggregating allocates nothing. The lock is let go before
    // anything is written; a per-call record, written at once, takes a copy.
    let st = tok.state.read();
    if tok.auditor.mode() == crate::config::AuditMode::Aggregate {
        tok.auditor
            .aggregator()
            .record(event(st.principal(session)), now);
        drop(st);
        tok.auditor.tick(store, now);
    } else {
        let principal = st.principal(session).to_string();
        drop(st);
        tok.auditor.data(store, event(&principal), now);
    }
}
