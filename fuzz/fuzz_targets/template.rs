//! Templates: the canonical nested-template encoding (`decode_template`), and
//! caller templates (nested ones included) through the real C entry points:
//! `C_CreateObject`, `C_GenerateKey`, `C_FindObjectsInit`, `C_SetAttributeValue`,
//! `C_CopyObject` and `C_GetAttributeValue` with buffers of every size.
#![no_main]
#![allow(unsafe_code)]

use arbitrary::Arbitrary;
use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use softkms::internals::object::attr::{decode_template, decode_ulongs, encode_template, is_template_attribute};
use softkms_fuzz::{build, call, check, p11, AttrIn, TypeSel, P11};
use std::mem::size_of;
use std::ptr::null_mut;

#[derive(Arbitrary, Debug)]
enum Make {
    Create,
    GenerateAes,
    GenerateSecret,
    /// An existing key of the harness.
    Existing(u8),
}

/// One attribute asked for by `C_GetAttributeValue`.
#[derive(Arbitrary, Debug)]
struct Ask {
    ty: TypeSel,
    /// Buffer size; `None`: null `pValue` (a length query).
    len: Option<u16>,
    /// For nested templates: inner buffer sizes.
    inner: Vec<Option<u8>>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    raw: Vec<u8>,
    make: Make,
    template: Vec<AttrIn>,
    set: Vec<AttrIn>,
    copy: Vec<AttrIn>,
    find: Vec<AttrIn>,
    ask: Vec<Ask>,
}

fn decode(raw: &[u8]) {
    if let Some(t) = decode_template(raw) {
        // Canonical: what decodes encodes back to the same bytes.
        assert_eq!(&encode_template(&t)[..], raw);
    }
    let _ = decode_ulongs(CKA_ALLOWED_MECHANISMS, raw);
}

fn get(p: &P11, s: CK_SESSION_HANDLE, h: CK_OBJECT_HANDLE, ask: &[Ask]) {
    let mut bufs: Vec<Vec<u8>> = Vec::new();
    let mut inner_arrays: Vec<Vec<CK_ATTRIBUTE>> = Vec::new();
    let mut t = Vec::new();
    for a in ask.iter().take(32) {
        let ty = a.ty.ty();
        let nested = is_template_attribute(ty) && !a.inner.is_empty();
        let (pv, len) = if nested {
            let mut arr = Vec::new();
            for n in &a.inner {
                let (pv, l) = match n {
                    Some(n) => {
                        let mut b = vec![0u8; usize::from(*n)];
                        let r = (b.as_mut_ptr().cast(), CK_ULONG::from(*n));
                        bufs.push(b);
                        r
                    }
                    None => (null_mut(), 0),
                };
                arr.push(CK_ATTRIBUTE { type_: 0, pValue: pv, ulValueLen: l });
            }
            let r = (arr.as_mut_ptr().cast(), (arr.len() * size_of::<CK_ATTRIBUTE>()) as CK_ULONG);
            inner_arrays.push(arr);
            r
        } else {
            match a.len {
                Some(n) => {
                    let mut b = vec![0u8; usize::from(n)];
                    let r = (b.as_mut_ptr().cast(), CK_ULONG::from(n));
                    bufs.push(b);
                    r
                }
                None => (null_mut(), 0),
            }
        };
        t.push(CK_ATTRIBUTE { type_: ty, pValue: pv, ulValueLen: len });
    }
    let (tp, tl) = if t.is_empty() { (null_mut(), 0) } else { (t.as_mut_ptr(), t.len() as CK_ULONG) };
    let rv = call!(p, C_GetAttributeValue, s, h, tp, tl);
    check(rv, "C_GetAttributeValue");
    // Every length reported is either unavailable or within the buffer given.
    for (a, q) in t.iter().zip(ask) {
        if !a.pValue.is_null() && a.ulValueLen != CK_UNAVAILABLE_INFORMATION {
            let nested = is_template_attribute(a.type_) && !q.inner.is_empty();
            let cap = if nested {
                (q.inner.len() * size_of::<CK_ATTRIBUTE>()) as CK_ULONG
            } else {
                CK_ULONG::from(q.len.unwrap_or(0))
            };
            assert!(a.ulValueLen <= cap, "length 0x{:x} beyond a buffer of {cap}", a.ulValueLen);
        }
    }
}

fn run(p: &P11, s: CK_SESSION_HANDLE, inp: &Input) {
    let mut made = Vec::new();
    let mut t = build(&inp.template);
    let (tp, tl) = t.raw();
    let h = match inp.make {
        Make::Existing(i) => p.key(i),
        Make::Create => {
            let mut h = 0;
            let rv = call!(p, C_CreateObject, s, tp, tl, &mut h);
            check(rv, "C_CreateObject");
            if rv != CKR_OK {
                return;
            }
            made.push(h);
            h
        }
        Make::GenerateAes | Make::GenerateSecret => {
            let mech = if matches!(inp.make, Make::GenerateAes) {
                CKM_AES_KEY_GEN
            } else {
                CKM_GENERIC_SECRET_KEY_GEN
            };
            let mut m = CK_MECHANISM { mechanism: mech, pParameter: null_mut(), ulParameterLen: 0 };
            let mut h = 0;
            let rv = call!(p, C_GenerateKey, s, &mut m, tp, tl, &mut h);
            check(rv, "C_GenerateKey");
            if rv != CKR_OK {
                return;
            }
            made.push(h);
            h
        }
    };
    get(p, s, h, &inp.ask);
    let mut set = build(&inp.set);
    let (sp, sl) = set.raw();
    if !made.is_empty() {
        check(call!(p, C_SetAttributeValue, s, h, sp, sl), "C_SetAttributeValue");
    }
    let mut copy = build(&inp.copy);
    let (cp, cl) = copy.raw();
    let mut c = 0;
    let rv = call!(p, C_CopyObject, s, h, cp, cl, &mut c);
    check(rv, "C_CopyObject");
    if rv == CKR_OK {
        made.push(c);
        get(p, s, c, &inp.ask);
    }
    let mut find = build(&inp.find);
    let (fp, fl) = find.raw();
    let rv = call!(p, C_FindObjectsInit, s, fp, fl);
    check(rv, "C_FindObjectsInit");
    if rv == CKR_OK {
        let mut found = [0 as CK_OBJECT_HANDLE; 8];
        let mut n = 0;
        check(call!(p, C_FindObjects, s, found.as_mut_ptr(), 8, &mut n), "C_FindObjects");
        assert!(n <= 8);
        check(call!(p, C_FindObjectsFinal, s), "C_FindObjectsFinal");
    }
    for h in made {
        p.destroy(s, h);
    }
}

fuzz_target!(|inp: Input| {
    decode(&inp.raw);
    let p = p11();
    let s = p.session();
    run(p, s, &inp);
    p.close(s);
});
