//! Key policies and named principals through the built module (DESIGN §4
//! "Principals and policy", `docs/policy.md`). `C_LoginUser` is a PKCS#11 3.0
//! function `cryptoki` does not offer, so the principals' sessions use the 3.0
//! function list from `C_GetInterface` directly.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)] // raw calls through the 3.0 function list; each block says why

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;

const BASE: CK_ULONG = 0xD34B_0000;
const CKA_POLICY: CK_ULONG = BASE + 0x0C;
const CKM_ENVELOPE: CK_ULONG = BASE + 0x01;
// Proposed in src/kms/principals.rs (to move to include/softkms.h).
const CKO_PRINCIPAL: CK_ULONG = BASE + 0x01;
const CKA_PRINCIPAL_PIN: CK_ULONG = BASE + 0x12;

const ALICE_PIN: &str = "alice-pin-1";
const BOB_PIN: &str = "bob-pin-22";

/// alice may encrypt but not decrypt; bob may decrypt only with app=billing;
/// the token owner keeps every action.
const POLICY: &str = r#"{"statements": [
    {"principals": ["alice"], "allow": ["Encrypt"]},
    {"principals": ["bob"], "allow": ["Decrypt"],
     "condition": {"encryption_context": {"app": "billing"}}},
    {"principals": ["user"], "allow": ["*"]}
]}"#;

fn vendor(ty: CK_ULONG, v: &[u8]) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), v.to_vec()))
}

fn read_policy(s: &Session, k: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(k, &[AttributeType::VendorDefined(CKA_POLICY)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => v.clone(),
        other => panic!("{other:?}"),
    }
}

fn managed_key(s: &Session, label: &str, policy: Option<&str>) -> ObjectHandle {
    let mut t = vec![
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::ValueLen(32.into()),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ];
    if let Some(p) = policy {
        t.push(vendor(CKA_POLICY, p.as_bytes()));
    }
    s.generate_key(&cryptoki::mechanism::Mechanism::AesKeyGen, &t)
        .unwrap()
}

/// The module's PKCS#11 3.0 function list, from a second handle on the same
/// library (the same module instance `cryptoki` initialized).
struct Raw {
    f: *const CK_FUNCTION_LIST_3_0,
    _lib: cryptoki_sys::Pkcs11,
}

impl Raw {
    fn new() -> Raw {
        // SAFETY: loading the module under test, which cryptoki has loaded already.
        let lib = unsafe { cryptoki_sys::Pkcs11::new(module_path()) }.unwrap();
        let mut name = *b"PKCS 11\0";
        let mut version = CK_VERSION { major: 3, minor: 0 };
        let mut iface: *mut CK_INTERFACE = std::ptr::null_mut();
        // SAFETY: C_GetInterface (§5.4) with a NUL-terminated name and valid out pointers.
        let rv = unsafe { lib.C_GetInterface(name.as_mut_ptr(), &mut version, &mut iface, 0) };
        assert_eq!(rv, CKR_OK);
        // SAFETY: a 3.0 interface's pFunctionList points at a CK_FUNCTION_LIST_3_0.
        let f = unsafe { (*iface).pFunctionList } as *const CK_FUNCTION_LIST_3_0;
        Raw { f, _lib: lib }
    }

    fn list(&self) -> &CK_FUNCTION_LIST_3_0 {
        // SAFETY: the module's static function list, valid while the library is loaded.
        unsafe { &*self.f }
    }

    fn open(&self, slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
        let mut h = 0;
        let open = self.list().C_OpenSession.unwrap();
        // SAFETY: C_OpenSession (§5.6) with no callback and a valid out pointer.
        let rv = unsafe {
            open(
                slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                std::ptr::null_mut(),
                None,
                &mut h,
            )
        };
        assert_eq!(rv, CKR_OK);
        h
    }

    fn login_user(&self, h: CK_SESSION_HANDLE, name: &str, pin: &str) -> CK_RV {
        let login = self.list().C_LoginUser.unwrap();
        let (mut pin, mut name) = (pin.as_bytes().to_vec(), name.as_bytes().to_vec());
        // SAFETY: C_LoginUser (§5.6.9) with buffers of the lengths given.
        unsafe {
            login(
                h,
                CKU_USER,
                pin.as_mut_ptr(),
                pin.len() as CK_ULONG,
                name.as_mut_ptr(),
                name.len() as CK_ULONG,
            )
        }
    }

    fn logout(&self, h: CK_SESSION_HANDLE) {
        let logout = self.list().C_Logout.unwrap();
        // SAFETY: C_Logout (§5.6) on an open session.
        assert_eq!(unsafe { logout(h) }, CKR_OK);
    }

    fn find(&self, h: CK_SESSION_HANDLE, label: &str) -> Option<CK_OBJECT_HANDLE> {
        let l = self.list();
        let mut label = label.as_bytes().to_vec();
        let mut t = [CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: label.as_mut_ptr().cast(),
            ulValueLen: label.len() as CK_ULONG,
        }];
        let (mut out, mut n) = (0, 0);
        // SAFETY: C_FindObjects* (§5.7) with a one-attribute template and one slot of output.
        unsafe {
            assert_eq!(l.C_FindObjectsInit.unwrap()(h, t.as_mut_ptr(), 1), CKR_OK);
            assert_eq!(l.C_FindObjects.unwrap()(h, &mut out, 1, &mut n), CKR_OK);
            assert_eq!(l.C_FindObjectsFinal.unwrap()(h), CKR_OK);
        }
        (n == 1).then_some(out)
    }

    /// Single-part envelope encryption or decryption with `context`.
    fn envelope(
        &self,
        h: CK_SESSION_HANDLE,
        k: CK_OBJECT_HANDLE,
        decrypt: bool,
        context: &[u8],
        input: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let l = self.list();
        let mut ctx = context.to_vec();
        let mut params = [ctx.as_mut_ptr() as usize, ctx.len()];
        let mut mech = CK_MECHANISM {
            mechanism: CKM_ENVELOPE,
            pParameter: params.as_mut_ptr().cast(),
            ulParameterLen: std::mem::size_of_val(&params) as CK_ULONG,
        };
        let mut input = input.to_vec();
        let mut out = vec![0u8; input.len() + 4096];
        let mut n = out.len() as CK_ULONG;
        // SAFETY: C_{En,De}cryptInit and C_{En,De}crypt (§5.8, §5.9) with a
        // CK_SOFTKMS_ENVELOPE_PARAMS laid out as {pointer, length} and buffers of
        // the lengths given.
        let rv = unsafe {
            let init = if decrypt {
                l.C_DecryptInit.unwrap()
            } else {
                l.C_EncryptInit.unwrap()
            };
            let rv = init(h, &mut mech, k);
            if rv != CKR_OK {
                return Err(rv);
            }
            let run = if decrypt {
                l.C_Decrypt.unwrap()
            } else {
                l.C_Encrypt.unwrap()
            };
            run(
                h,
                input.as_mut_ptr(),
                input.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n,
            )
        };
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(usize::try_from(n).unwrap());
        Ok(out)
    }

    fn set_policy(&self, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE, json: &str) -> CK_RV {
        let mut v = json.as_bytes().to_vec();
        let mut t = [CK_ATTRIBUTE {
            type_: CKA_POLICY,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: v.len() as CK_ULONG,
        }];
        // SAFETY: C_SetAttributeValue (§5.7) with a one-attribute template.
        unsafe { self.list().C_SetAttributeValue.unwrap()(h, k, t.as_mut_ptr(), 1) }
    }
}

#[test]
fn the_policy_attribute_round_trips() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = managed_key(&s, "K", Some(POLICY));
    assert_eq!(read_policy(&s, k), POLICY.as_bytes());
    let next = r#"{"statements":[{"principals":["user"],"allow":["*"]}]}"#;
    s.update_attributes(k, &[vendor(CKA_POLICY, next.as_bytes())])
        .unwrap();
    assert_eq!(read_policy(&s, k), next.as_bytes());
    // A key without a policy has none to read (the default policy applies).
    let plain = managed_key(&s, "plain", None);
    assert!(s
        .get_attributes(plain, &[AttributeType::VendorDefined(CKA_POLICY)])
        .unwrap()
        .is_empty());
}

#[test]
fn an_unknown_principal_is_a_wrong_pin() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let raw = Raw::new();
    let h = raw.open(slot.id());
    assert_eq!(raw.login_user(h, "nobody", "whatever"), CKR_PIN_INCORRECT);
    assert_eq!(raw.login_user(h, "so", SO_PIN), CKR_PIN_INCORRECT);
    // The default user by name is the token owner.
    assert_eq!(raw.login_user(h, "user", USER_PIN), CKR_OK);
    raw.logout(h);
}

#[test]

fn principals_are_held_to_the_key_policy() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        managed_key(&s, "K", Some(POLICY));
        s.logout().unwrap();
    }
    {
        let so = ctx.p11.open_rw_session(slot).unwrap();
        so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
        for (name, p) in [("alice", ALICE_PIN), ("bob", BOB_PIN)] {
            so.create_object(&[
                vendor(CKA_CLASS, &CKO_PRINCIPAL.to_ne_bytes()),
                Attribute::Label(name.as_bytes().to_vec()),
                vendor(CKA_PRINCIPAL_PIN, p.as_bytes()),
            ])
            .unwrap();
        }
        // A principal's name is unique.
        assert_eq!(
            rv(so.create_object(&[
                vendor(CKA_CLASS, &CKO_PRINCIPAL.to_ne_bytes()),
                Attribute::Label(b"alice".to_vec()),
                vendor(CKA_PRINCIPAL_PIN, b"another-pin"),
            ])),
            cryptoki::error::RvError::AttributeValueInvalid
        );
        so.logout().unwrap();
    }
    let raw = Raw::new();
    let h = raw.open(slot.id());
    let billing = br#"{"app":"billing"}"#;

    // alice: encrypt yes, decrypt no, policy change no.
    assert_eq!(raw.login_user(h, "alice", BOB_PIN), CKR_PIN_INCORRECT);
    assert_eq!(raw.login_user(h, "alice", ALICE_PIN), CKR_OK);
    let k = raw.find(h, "K").expect("alice can find K");
    let msg = raw.envelope(h, k, false, billing, b"invoice 42").unwrap();
    let other = raw
        .envelope(h, k, false, br#"{"app":"hr"}"#, b"payroll")
        .unwrap();
    assert_eq!(
        raw.envelope(h, k, true, billing, &msg),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    let open = r#"{"statements":[{"principals":["*"],"allow":["*"]}]}"#;
    assert_eq!(raw.set_policy(h, k, open), CKR_KEY_FUNCTION_NOT_PERMITTED);
    raw.logout(h);

    // bob: decrypt only with app=billing, never encrypt. alice's handle died
    // with her logout (§5.6).
    assert_eq!(raw.login_user(h, "bob", BOB_PIN), CKR_OK);
    let k = raw.find(h, "K").expect("bob can find K");
    assert_eq!(
        raw.envelope(h, k, true, billing, &msg).unwrap(),
        b"invoice 42"
    );
    assert_eq!(
        raw.envelope(h, k, true, br#"{"app":"hr"}"#, &other),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    assert_eq!(
        raw.envelope(h, k, false, billing, b"x"),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    assert_eq!(raw.set_policy(h, k, open), CKR_KEY_FUNCTION_NOT_PERMITTED);
    raw.logout(h);

    // Nothing changed: the owner reads the policy it set.
    let s = ctx.user_session(0);
    let k = s.find_objects(&[Attribute::Label(b"K".to_vec())]).unwrap()[0];
    assert_eq!(read_policy(&s, k), POLICY.as_bytes());
    // A policy that locks everybody out is refused without the force flag.
    let lockout = r#"{"statements":[{"principals":["alice"],"allow":["Encrypt"]}]}"#;
    assert_eq!(
        rv(s.update_attributes(k, &[vendor(CKA_POLICY, lockout.as_bytes())])),
        cryptoki::error::RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(s.update_attributes(k, &[vendor(CKA_POLICY, b"{not json")])),
        cryptoki::error::RvError::AttributeValueInvalid
    );
    assert_eq!(read_policy(&s, k), POLICY.as_bytes());
}
