//! Object management (§5.7) and the attribute rules of chapter 4: creation
//! templates, the C_GetAttributeValue length-query convention with several
//! attributes and mixed errors, read-only attributes, CKA_SENSITIVE only to TRUE,
//! CKA_EXTRACTABLE only to FALSE, copy and destroy rules, finding in batches.
//! One file per function group (`create`, `get`, `set`, `copy` with destroy,
//! `find`); this one holds the templates and helpers they share.

#![allow(unsafe_code)]

use crate::{check, ensure, expect_rv, ok, t, want, Env, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, rv_name, Module, Template};
use std::ffi::c_void;
use std::ptr::null_mut as nul;

mod copy;
mod create;
mod find;
mod get;
mod set;

use copy::*;
use create::*;
use find::*;
use get::*;
use set::*;

const UNDEFINED_ATTR: CK_ATTRIBUTE_TYPE = 0x0000_7F7F;
const AES_KEY: [u8; 16] = *b"0123456789abcdef";

fn data(label: &str) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .flag(CKA_TOKEN, false)
        .flag(CKA_PRIVATE, false)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, b"conformance value")
}

fn aes(sensitive: bool, extractable: bool) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .flag(CKA_TOKEN, false)
        .flag(CKA_SENSITIVE, sensitive)
        .flag(CKA_EXTRACTABLE, extractable)
        .flag(CKA_ENCRYPT, true)
        .flag(CKA_DECRYPT, true)
        .bytes(CKA_LABEL, b"conf-aes")
        .bytes(CKA_VALUE, &AES_KEY)
}

/// A logged-in R/W session.
fn user(m: &Module, e: &Env) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let s = m.open(e.slot, true)?;
    let rv = m.login(s, CKU_USER, &e.pin);
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(s)
}

fn attr(ty: CK_ATTRIBUTE_TYPE, buf: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: if buf.is_empty() {
            nul()
        } else {
            buf.as_mut_ptr() as *mut c_void
        },
        ulValueLen: buf.len() as CK_ULONG,
    }
}

fn create_rv(m: &Module, e: &Env, t: Template) -> CK_RV {
    match user(m, e) {
        Ok(s) => crate::rv_of(&m.create(s, &t)),
        Err(rv) => rv,
    }
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    r.group("objects", |r, env| {
        create(r, env);
        get(r, env);
        set(r, env);
        copy(r, env);
        destroy(r, env);
        find(r, env);
    });
}
