//! Tests of the marshalling rules on hand-built C structures.

#![allow(clippy::undocumented_unsafe_blocks, clippy::unwrap_used)]

use super::MAX_VALUE_LEN;
use crate::error::{Error, Result};
use crate::ffi::marshal;
use crate::mechanism::{Param, ParamKind};
use crate::object::attr::{self, Attribute};
use crate::object::rules::AttrRead;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::{null, null_mut};
use zeroize::Zeroizing;

#[test]
fn byte_slices() {
    assert_eq!(unsafe { marshal::bytes(null(), 0) }.unwrap(), b"");
    assert_eq!(
        unsafe { marshal::bytes(null(), 1) },
        Err(Error::ArgumentsBad)
    );
    let d = *b"abc";
    assert_eq!(unsafe { marshal::bytes(d.as_ptr(), 3) }.unwrap(), b"abc");
    assert_eq!(
        unsafe { marshal::bytes_mut(null_mut(), 2) },
        Err(Error::ArgumentsBad)
    );
    assert!(unsafe { marshal::bytes_mut(null_mut(), 0) }
        .unwrap()
        .is_empty());
    // A NULL PIN is refused even with length 0 (no protected authentication path).
    assert_eq!(unsafe { marshal::pin(null(), 0) }, Err(Error::ArgumentsBad));
    assert_eq!(unsafe { marshal::label(null()) }, Err(Error::ArgumentsBad));
}

#[test]
fn output_length_rules() {
    let writer = |d: &[u8], o: &mut crate::outbuf::OutBuf<'_>| o.write(d).map(|_| ());
    let data = *b"hello";
    // Size query.
    let mut len: CK_ULONG = 0;
    unsafe { marshal::in_out(data.as_ptr(), 5, null_mut(), &mut len, writer) }.unwrap();
    assert_eq!(len, 5);
    // Too small: the needed length comes back with CKR_BUFFER_TOO_SMALL.
    let mut small = [0u8; 3];
    let mut len: CK_ULONG = 3;
    let r = unsafe { marshal::in_out(data.as_ptr(), 5, small.as_mut_ptr(), &mut len, writer) };
    assert_eq!(r, Err(Error::BufferTooSmall));
    assert_eq!(len, 5);
    // Enough room.
    let mut big = [0u8; 8];
    let mut len: CK_ULONG = 8;
    unsafe { marshal::in_out(data.as_ptr(), 5, big.as_mut_ptr(), &mut len, writer) }.unwrap();
    assert_eq!((len, &big[..5]), (5, &b"hello"[..]));
    // pulLen NULL.
    let r = unsafe { marshal::in_out(data.as_ptr(), 5, big.as_mut_ptr(), null_mut(), writer) };
    assert_eq!(r, Err(Error::ArgumentsBad));
    // Another error leaves *pulLen alone.
    let mut len: CK_ULONG = 8;
    let r = unsafe { marshal::out(big.as_mut_ptr(), &mut len, |_| Err(Error::DataLenRange)) };
    assert_eq!((r, len), (Err(Error::DataLenRange), 8));
}

#[test]
fn in_place_input_is_copied_before_output_is_written() {
    let mut buf = *b"abcdef";
    let mut len: CK_ULONG = 6;
    let p = buf.as_mut_ptr();
    unsafe {
        marshal::in_out(p, 6, p, &mut len, |d, o| {
            let rev: Vec<u8> = d.iter().rev().copied().collect();
            let dst = o.reserve(d.len())?.unwrap();
            // Writing byte by byte would corrupt a borrowed input that aliases the output.
            for (i, b) in rev.iter().enumerate() {
                dst[i] = *b;
            }
            Ok(())
        })
    }
    .unwrap();
    assert_eq!(&buf, b"fedcba");
}

#[test]
fn list_length_rules() {
    let items: [CK_ULONG; 3] = [7, 8, 9];
    let mut n: CK_ULONG = 0;
    unsafe { marshal::list_out(null_mut(), &mut n, &items) }.unwrap();
    assert_eq!(n, 3);
    let mut out = [0 as CK_ULONG; 3];
    let mut n: CK_ULONG = 2;
    assert_eq!(
        unsafe { marshal::list_out(out.as_mut_ptr(), &mut n, &items) },
        Err(Error::BufferTooSmall)
    );
    assert_eq!(n, 3);
    unsafe { marshal::list_out(out.as_mut_ptr(), &mut n, &items) }.unwrap();
    assert_eq!(out, items);
    assert_eq!(
        unsafe { marshal::list_out(out.as_mut_ptr(), null_mut(), &items) },
        Err(Error::ArgumentsBad)
    );
}

#[test]
fn find_objects_pointers() {
    let mut n: CK_ULONG = 0;
    let mut hs = [0 as CK_OBJECT_HANDLE; 4];
    let f = |max: usize| -> Result<Vec<CK_OBJECT_HANDLE>> { Ok((1..=3).take(max).collect()) };
    assert_eq!(
        unsafe { marshal::handles_out(null_mut(), 4, &mut n, f) },
        Err(Error::ArgumentsBad)
    );
    assert_eq!(
        unsafe { marshal::handles_out(hs.as_mut_ptr(), 4, null_mut(), f) },
        Err(Error::ArgumentsBad)
    );
    unsafe { marshal::handles_out(hs.as_mut_ptr(), 2, &mut n, f) }.unwrap();
    assert_eq!((n, hs), (2, [1, 2, 0, 0]));
}

#[test]
fn padded_text_fields() {
    assert_eq!(marshal::padded::<6>("ab"), *b"ab    ");
    assert_eq!(marshal::padded::<3>("abcdef"), *b"abc");
    // "é" is two bytes: it does not fit after "ab" in 3 bytes and is dropped whole.
    assert_eq!(marshal::padded::<3>("abé"), *b"ab ");
    assert_eq!(marshal::padded::<4>("abé"), *"abé".as_bytes());
}

fn ck_attr(ty: CK_ATTRIBUTE_TYPE, v: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v.as_mut_ptr().cast(),
        ulValueLen: v.len().try_into().unwrap(),
    }
}

#[test]
fn templates() {
    let mut label = *b"key";
    let mut token = [CK_TRUE];
    let mut inner_enc = [CK_TRUE];
    let mut inner = [ck_attr(CKA_ENCRYPT, &mut inner_enc)];
    let inner_len = CK_ULONG::try_from(size_of::<CK_ATTRIBUTE>()).unwrap();
    let t = [
        ck_attr(CKA_LABEL, &mut label),
        ck_attr(CKA_TOKEN, &mut token),
        CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: inner.as_mut_ptr().cast(),
            ulValueLen: inner_len,
        },
        CK_ATTRIBUTE {
            type_: CKA_ID,
            pValue: null_mut(),
            ulValueLen: 0,
        },
    ];
    let got = unsafe { marshal::template(t.as_ptr(), 4) }.unwrap();
    assert_eq!(got[0], Attribute::new(CKA_LABEL, b"key".to_vec()));
    assert_eq!(got[1], Attribute::bool(CKA_TOKEN, true));
    assert_eq!(
        attr::decode_template(&got[2].value).unwrap(),
        vec![Attribute::bool(CKA_ENCRYPT, true)]
    );
    assert_eq!(got[3], Attribute::new(CKA_ID, Vec::new()));

    assert!(unsafe { marshal::template(null(), 0) }.unwrap().is_empty());
    assert_eq!(
        unsafe { marshal::template(null(), 1) },
        Err(Error::ArgumentsBad)
    );
    let bad = |a: CK_ATTRIBUTE| unsafe { marshal::template(&a, 1) };
    let null_value = CK_ATTRIBUTE {
        type_: CKA_LABEL,
        pValue: null_mut(),
        ulValueLen: 3,
    };
    assert_eq!(
        bad(null_value),
        Err(Error::AttributeValueInvalid(CKA_LABEL))
    );
    let unavailable = CK_ATTRIBUTE {
        ulValueLen: CK_UNAVAILABLE_INFORMATION,
        ..ck_attr(CKA_LABEL, &mut label)
    };
    assert_eq!(
        bad(unavailable),
        Err(Error::AttributeValueInvalid(CKA_LABEL))
    );
    let huge = CK_ATTRIBUTE {
        ulValueLen: CK_ULONG::try_from(MAX_VALUE_LEN + 1).unwrap(),
        ..ck_attr(CKA_LABEL, &mut label)
    };
    assert_eq!(bad(huge), Err(Error::AttributeValueInvalid(CKA_LABEL)));
    // A nested template whose length is not a whole number of CK_ATTRIBUTEs.
    let ragged = CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: inner.as_mut_ptr().cast(),
        ulValueLen: inner_len - 1,
    };
    assert_eq!(
        bad(ragged),
        Err(Error::AttributeValueInvalid(CKA_WRAP_TEMPLATE))
    );
    // A template inside a nested template is refused.
    let mut deeper = [CK_ATTRIBUTE {
        type_: CKA_UNWRAP_TEMPLATE,
        pValue: inner.as_mut_ptr().cast(),
        ulValueLen: inner_len,
    }];
    let deep = CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: deeper.as_mut_ptr().cast(),
        ulValueLen: inner_len,
    };
    assert_eq!(
        bad(deep),
        Err(Error::AttributeValueInvalid(CKA_UNWRAP_TEMPLATE))
    );
    // CKA_ALLOWED_MECHANISMS is an array of CK_ULONG, not a template.
    let mut mechs = attr::encode_ulongs(&[CKM_AES_GCM]);
    let got = bad(ck_attr(CKA_ALLOWED_MECHANISMS, &mut mechs)).unwrap();
    assert_eq!(got[0].value.as_slice(), mechs.as_slice());
}

fn read(v: &[u8]) -> AttrRead {
    AttrRead::Value(Zeroizing::new(v.to_vec()))
}

#[test]
fn attribute_value_rules() {
    let mut small = [0u8; 2];
    let mut big = [0u8; 8];
    let mut t = [
        CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: null_mut(),
            ulValueLen: 0,
        },
        ck_attr(CKA_ID, &mut big),
        ck_attr(CKA_SUBJECT, &mut small),
        CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: null_mut(),
            ulValueLen: 0,
        },
        CK_ATTRIBUTE {
            type_: 0x7777,
            pValue: null_mut(),
            ulValueLen: 0,
        },
    ];
    let types = unsafe { marshal::attribute_types(t.as_ptr(), 5) }.unwrap();
    assert_eq!(types, [CKA_LABEL, CKA_ID, CKA_SUBJECT, CKA_VALUE, 0x7777]);
    let reads = [
        read(b"label"),
        read(b"id"),
        read(b"subject"),
        AttrRead::Sensitive,
        AttrRead::Invalid,
    ];
    let r = unsafe { marshal::write_attribute_values(t.as_mut_ptr(), 5, &reads) };
    // Every attribute is processed; sensitive wins over type invalid and buffer too small.
    assert_eq!(r, Err(Error::AttributeSensitive(CKA_VALUE)));
    assert_eq!(t[0].ulValueLen, 5);
    assert_eq!((t[1].ulValueLen, &big[..2]), (2, &b"id"[..]));
    assert_eq!(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    let mut t2 = [
        CK_ATTRIBUTE {
            type_: 0x7777,
            pValue: null_mut(),
            ulValueLen: 0,
        },
        ck_attr(CKA_ID, &mut small),
    ];
    let r = unsafe {
        marshal::write_attribute_values(t2.as_mut_ptr(), 2, &[read(b"toolong"), AttrRead::Invalid])
    };
    assert_eq!(r, Err(Error::AttributeTypeInvalid(CKA_ID)));
    let mut t3 = [ck_attr(CKA_ID, &mut small)];
    let r = unsafe { marshal::write_attribute_values(t3.as_mut_ptr(), 1, &[read(b"toolong")]) };
    assert_eq!(r, Err(Error::BufferTooSmall));
    let r = unsafe { marshal::write_attribute_values(t3.as_mut_ptr(), 1, &[]) };
    assert!(matches!(r, Err(Error::General(_))));
}

#[test]
fn nested_template_values() {
    let stored = attr::encode_template(&[
        Attribute::bool(CKA_ENCRYPT, true),
        Attribute::new(CKA_LABEL, b"abc".to_vec()),
    ]);
    let needed = CK_ULONG::try_from(2 * size_of::<CK_ATTRIBUTE>()).unwrap();
    // Length query.
    let mut t = [CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: null_mut(),
        ulValueLen: 0,
    }];
    unsafe { marshal::write_attribute_values(t.as_mut_ptr(), 1, &[read(&stored)]) }.unwrap();
    assert_eq!(t[0].ulValueLen, needed);
    // The caller's array with inner length queries.
    let blank = CK_ATTRIBUTE {
        type_: 0,
        pValue: null_mut(),
        ulValueLen: 0,
    };
    let mut inner = [blank; 2];
    t[0].pValue = inner.as_mut_ptr().cast();
    unsafe { marshal::write_attribute_values(t.as_mut_ptr(), 1, &[read(&stored)]) }.unwrap();
    assert_eq!((inner[0].type_, inner[0].ulValueLen), (CKA_ENCRYPT, 1));
    assert_eq!((inner[1].type_, inner[1].ulValueLen), (CKA_LABEL, 3));
    // Inner buffers: one large enough, one too small.
    let mut b1 = [0u8; 1];
    let mut b2 = [0u8; 2];
    inner = [ck_attr(0, &mut b1), ck_attr(0, &mut b2)];
    t[0].pValue = inner.as_mut_ptr().cast();
    let r = unsafe { marshal::write_attribute_values(t.as_mut_ptr(), 1, &[read(&stored)]) };
    assert_eq!(r, Err(Error::BufferTooSmall));
    assert_eq!((inner[0].ulValueLen, b1), (1, [CK_TRUE]));
    assert_eq!(inner[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    // An outer array too small for the template.
    t[0].ulValueLen = needed - 1;
    let r = unsafe { marshal::write_attribute_values(t.as_mut_ptr(), 1, &[read(&stored)]) };
    assert_eq!(
        (r, t[0].ulValueLen),
        (Err(Error::BufferTooSmall), CK_UNAVAILABLE_INFORMATION)
    );
}

fn len_of<T>() -> CK_ULONG {
    CK_ULONG::try_from(size_of::<T>()).unwrap()
}

#[test]
fn mechanism_parameters() {
    let p = |kind, ptr: *const c_void, len| unsafe { super::mechanism::param(kind, ptr, len) };
    assert_eq!(p(ParamKind::None, null(), 0), Ok(Param::None));
    let mut iv = *b"0123456789ab";
    assert_eq!(
        p(ParamKind::None, iv.as_ptr().cast(), 12),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        p(ParamKind::Bytes, iv.as_ptr().cast(), 12),
        Ok(Param::Bytes(iv.to_vec()))
    );
    assert_eq!(
        p(ParamKind::Bytes, null(), 12),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(p(ParamKind::OptionalBytes, null(), 0), Ok(Param::None));
    let mac_len: CK_MAC_GENERAL_PARAMS = 16;
    assert_eq!(
        p(
            ParamKind::Ulong,
            std::ptr::addr_of!(mac_len).cast(),
            len_of::<CK_ULONG>()
        ),
        Ok(Param::Ulong(16))
    );
    assert_eq!(
        p(ParamKind::Ulong, std::ptr::addr_of!(mac_len).cast(), 4),
        Err(Error::MechanismParamInvalid)
    );

    let mut aad = *b"aad";
    let gcm = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: 3,
        ulTagBits: 128,
    };
    let gp = std::ptr::addr_of!(gcm).cast();
    let want = Param::Gcm {
        iv: iv.to_vec(),
        aad: aad.to_vec(),
        tag_bits: 128,
    };
    assert_eq!(p(ParamKind::Gcm, gp, len_of::<CK_GCM_PARAMS>()), Ok(want));
    assert_eq!(
        p(ParamKind::Gcm, gp, len_of::<CK_GCM_PARAMS>() - 1),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        p(ParamKind::Gcm, null(), len_of::<CK_GCM_PARAMS>()),
        Err(Error::MechanismParamInvalid)
    );
    let no_iv = CK_GCM_PARAMS {
        pIv: null_mut(),
        ..gcm
    };
    assert_eq!(
        p(
            ParamKind::Gcm,
            std::ptr::addr_of!(no_iv).cast(),
            len_of::<CK_GCM_PARAMS>()
        ),
        Err(Error::MechanismParamInvalid)
    );

    let mut label = *b"L";
    let oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: label.as_mut_ptr().cast(),
        ulSourceDataLen: 1,
    };
    let ol = len_of::<CK_RSA_PKCS_OAEP_PARAMS>();
    let want = Param::Oaep {
        hash: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        label: b"L".to_vec(),
    };
    assert_eq!(
        p(ParamKind::Oaep, std::ptr::addr_of!(oaep).cast(), ol),
        Ok(want.clone())
    );
    let no_source = CK_RSA_PKCS_OAEP_PARAMS {
        source: 0,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
        ..oaep
    };
    let want_empty = Param::Oaep {
        hash: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        label: Vec::new(),
    };
    assert_eq!(
        p(ParamKind::Oaep, std::ptr::addr_of!(no_source).cast(), ol),
        Ok(want_empty)
    );
    let source_without_flag = CK_RSA_PKCS_OAEP_PARAMS { source: 0, ..oaep };
    assert_eq!(
        p(
            ParamKind::Oaep,
            std::ptr::addr_of!(source_without_flag).cast(),
            ol
        ),
        Err(Error::MechanismParamInvalid)
    );

    let mut kw = CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: 256,
        pOAEPParams: std::ptr::addr_of!(oaep).cast_mut(),
    };
    let kl = len_of::<CK_RSA_AES_KEY_WRAP_PARAMS>();
    let got = p(ParamKind::RsaAesKeyWrap, std::ptr::addr_of!(kw).cast(), kl);
    assert_eq!(
        got,
        Ok(Param::RsaAesKeyWrap {
            aes_key_bits: 256,
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            label: b"L".to_vec(),
        })
    );
    kw.pOAEPParams = null_mut();
    assert_eq!(
        p(ParamKind::RsaAesKeyWrap, std::ptr::addr_of!(kw).cast(), kl),
        Err(Error::MechanismParamInvalid)
    );

    let mut point = [4u8, 1, 2];
    let ecdh = CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: 3,
        pPublicData: point.as_mut_ptr(),
    };
    let want = Param::Ecdh1 {
        kdf: CKD_NULL,
        shared_data: Vec::new(),
        public_data: point.to_vec(),
    };
    assert_eq!(
        p(
            ParamKind::Ecdh1,
            std::ptr::addr_of!(ecdh).cast(),
            len_of::<CK_ECDH1_DERIVE_PARAMS>()
        ),
        Ok(want)
    );

    let mut info = *b"info";
    let hkdf = CK_HKDF_PARAMS {
        bExtract: CK_TRUE,
        bExpand: CK_FALSE,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_NULL,
        pSalt: null_mut(),
        ulSaltLen: 0,
        hSaltKey: 0,
        pInfo: info.as_mut_ptr(),
        ulInfoLen: 4,
    };
    let got = p(
        ParamKind::Hkdf,
        std::ptr::addr_of!(hkdf).cast(),
        len_of::<CK_HKDF_PARAMS>(),
    );
    let want = Param::Hkdf {
        extract: true,
        expand: false,
        prf_hash: CKM_SHA256,
        salt_type: CKF_HKDF_SALT_NULL,
        salt: Vec::new(),
        salt_key: 0,
        info: info.to_vec(),
    };
    assert_eq!(got, Ok(want));
}

#[test]
fn mechanism_struct() {
    assert_eq!(
        unsafe { marshal::mechanism(null()) },
        Err(Error::ArgumentsBad)
    );
    let unknown = CK_MECHANISM {
        mechanism: CKM_VENDOR_DEFINED | 0x1234,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    assert_eq!(
        unsafe { marshal::mechanism(&unknown) },
        Err(Error::MechanismInvalid)
    );
    assert_eq!(
        unsafe { marshal::message_mechanism(&unknown) },
        Err(Error::MechanismInvalid)
    );
}

#[test]
fn gcm_message_parameters() {
    let ml = len_of::<CK_GCM_MESSAGE_PARAMS>();
    let mut iv = [0xAAu8; 12];
    let mut tag = [0u8; 16];
    let s = CK_GCM_MESSAGE_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvFixedBits: 32,
        ivGenerator: CKG_GENERATE_COUNTER,
        pTag: tag.as_mut_ptr(),
        ulTagBits: 128,
    };
    let sp: *mut c_void = std::ptr::addr_of!(s).cast_mut().cast();
    assert!(matches!(
        unsafe { marshal::message_param(sp, ml - 1, true) },
        Err(Error::ArgumentsBad)
    ));
    assert!(matches!(
        unsafe { marshal::message_param(null_mut(), ml, true) },
        Err(Error::ArgumentsBad)
    ));

    // Encryption: the generated IV and the tag go back to the caller's struct.
    let mut mp = unsafe { marshal::message_param(sp, ml, true) }.unwrap();
    let Param::GcmMessage {
        iv: piv,
        tag: ptag,
        iv_fixed_bits,
        iv_generator,
        tag_bits,
    } = &mut mp.param
    else {
        panic!("not a GCM message parameter");
    };
    assert_eq!(
        (piv.as_slice(), *iv_fixed_bits, *iv_generator, *tag_bits),
        (&[0xAA; 12][..], 32, CKG_GENERATE_COUNTER, 128)
    );
    assert!(ptag.is_empty());
    piv.copy_from_slice(&[1; 12]);
    *ptag = vec![2; 16];
    unsafe { mp.write_back() }.unwrap();
    assert_eq!((iv, tag), ([1; 12], [2; 16]));

    // Decryption: the tag is input.
    let mp = unsafe { marshal::message_param(sp, ml, false) }.unwrap();
    let Param::GcmMessage { tag: ptag, .. } = &mp.param else {
        panic!("not a GCM message parameter")
    };
    assert_eq!(ptag.as_slice(), &[2; 16]);

    // Encryption needs somewhere to put the tag.
    let no_tag = CK_GCM_MESSAGE_PARAMS {
        pTag: null_mut(),
        ..s
    };
    let np: *mut c_void = std::ptr::addr_of!(no_tag).cast_mut().cast();
    assert!(matches!(
        unsafe { marshal::message_param(np, ml, true) },
        Err(Error::ArgumentsBad)
    ));
}

// ---------------------------------------------------------------- limits before allocation (issue 12)

/// Sizes no host can allocate; any of them read or copied aborts the test.
const HUGE: [CK_ULONG; 3] = [1 << 40, 1 << 62, 1 << 63];

#[test]
fn template_counts_and_total_size_are_limited() {
    use super::{MAX_TEMPLATE_ATTRS, MAX_TEMPLATE_BYTES};
    let mut v = *b"v";
    let one = [ck_attr(CKA_LABEL, &mut v)];
    // A count beyond the limit is refused before any attribute is read.
    let over = CK_ULONG::try_from(MAX_TEMPLATE_ATTRS + 1).unwrap();
    for n in [over, 1 << 40, 1 << 58] {
        assert_eq!(
            unsafe { marshal::template(one.as_ptr(), n) },
            Err(Error::ArgumentsBad)
        );
        assert_eq!(
            unsafe { marshal::attribute_types(one.as_ptr(), n) },
            Err(Error::ArgumentsBad)
        );
    }
    let full = vec![one[0]; MAX_TEMPLATE_ATTRS];
    let n = CK_ULONG::try_from(full.len()).unwrap();
    assert_eq!(
        unsafe { marshal::template(full.as_ptr(), n) }
            .unwrap()
            .len(),
        full.len()
    );

    // Values within the per-value limit that together pass the template's budget.
    assert_eq!(MAX_TEMPLATE_BYTES, 2 * MAX_VALUE_LEN);
    let mut big = vec![0u8; MAX_VALUE_LEN];
    let mut t = vec![ck_attr(CKA_LABEL, &mut big); 2];
    assert_eq!(
        unsafe { marshal::template(t.as_ptr(), 2) }.unwrap().len(),
        2
    );
    t.push(ck_attr(CKA_ID, &mut v));
    assert_eq!(
        unsafe { marshal::template(t.as_ptr(), 3) },
        Err(Error::AttributeValueInvalid(CKA_ID))
    );
    // The budget is shared with nested templates.
    let inner = [ck_attr(CKA_LABEL, &mut big)];
    let t = [
        ck_attr(CKA_VALUE, &mut big),
        CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: inner.as_ptr().cast_mut().cast(),
            ulValueLen: len_of::<CK_ATTRIBUTE>(),
        },
    ];
    assert_eq!(
        unsafe { marshal::template(t.as_ptr(), 2) },
        Err(Error::AttributeValueInvalid(CKA_LABEL))
    );
}

#[test]
fn parameter_sizes_are_limited_before_they_are_read() {
    use super::mechanism::{GCM_MAX_TAG_BITS, MAX_EC_POINT_LEN, MAX_IV_LEN, MAX_PARAM_DATA_LEN};
    let p = |kind, ptr: *const c_void, len| unsafe { super::mechanism::param(kind, ptr, len) };
    let lim = |n: usize| CK_ULONG::try_from(n).unwrap();
    let mut buf = vec![7u8; MAX_IV_LEN];
    let b = buf.as_mut_ptr();
    // A byte-string parameter (an IV): up to MAX_IV_LEN.
    assert_eq!(
        p(ParamKind::Bytes, b.cast(), lim(MAX_IV_LEN)),
        Ok(Param::Bytes(buf.clone()))
    );
    for n in [lim(MAX_IV_LEN + 1), 1 << 40, 1 << 62] {
        assert_eq!(
            p(ParamKind::OptionalBytes, b.cast(), n),
            Err(Error::MechanismParamInvalid)
        );
    }
    let gcm = |iv_len, aad_len| CK_GCM_PARAMS {
        pIv: b,
        ulIvLen: iv_len,
        ulIvBits: 0,
        pAAD: b,
        ulAADLen: aad_len,
        ulTagBits: 128,
    };
    let gp = |s: &CK_GCM_PARAMS| {
        p(
            ParamKind::Gcm,
            std::ptr::from_ref(s).cast(),
            len_of::<CK_GCM_PARAMS>(),
        )
    };
    assert!(gp(&gcm(lim(MAX_IV_LEN), 16)).is_ok());
    let too_big = [
        gcm(lim(MAX_IV_LEN + 1), 0),
        gcm(12, lim(MAX_PARAM_DATA_LEN + 1)),
    ];
    for s in too_big.iter().chain(
        HUGE.iter()
            .flat_map(|&n| [gcm(n, 0), gcm(12, n)])
            .collect::<Vec<_>>()
            .iter(),
    ) {
        assert_eq!(gp(s), Err(Error::MechanismParamInvalid));
    }
    let ecdh = |public_len| CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_SHA256_KDF,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: public_len,
        pPublicData: b,
    };
    for n in [lim(MAX_EC_POINT_LEN + 1), 1 << 40] {
        let s = ecdh(n);
        assert_eq!(
            p(
                ParamKind::Ecdh1,
                std::ptr::from_ref(&s).cast(),
                len_of::<CK_ECDH1_DERIVE_PARAMS>()
            ),
            Err(Error::MechanismParamInvalid)
        );
    }

    // Per-message GCM: ulTagBits and ulIvLen are checked before pTag or pIv is read.
    let mut tag = [0u8; 16];
    let t = tag.as_mut_ptr();
    let msg = |iv_len, tag_bits| CK_GCM_MESSAGE_PARAMS {
        pIv: b,
        ulIvLen: iv_len,
        ulIvFixedBits: 0,
        ivGenerator: CKG_NO_GENERATE,
        pTag: t,
        ulTagBits: tag_bits,
    };
    let ml = len_of::<CK_GCM_MESSAGE_PARAMS>();
    for encrypt in [true, false] {
        let ok = msg(12, GCM_MAX_TAG_BITS);
        let sp: *mut c_void = std::ptr::from_ref(&ok).cast_mut().cast();
        assert!(unsafe { marshal::message_param(sp, ml, encrypt) }.is_ok());
        let mut bad = vec![msg(12, GCM_MAX_TAG_BITS + 1), msg(lim(MAX_IV_LEN + 1), 128)];
        for n in HUGE {
            bad.push(msg(12, n));
            bad.push(msg(n, 128));
        }
        for s in &bad {
            let sp: *mut c_void = std::ptr::from_ref(s).cast_mut().cast();
            assert!(matches!(
                unsafe { marshal::message_param(sp, ml, encrypt) },
                Err(Error::MechanismParamInvalid)
            ));
        }
    }
}

#[test]
fn in_place_input_of_a_huge_length_is_host_memory() {
    let mut buf = [0u8; 64];
    let p = buf.as_mut_ptr();
    let mut len: CK_ULONG = 64;
    let mut called = false;
    let r = unsafe {
        marshal::in_out(p, 1 << 62, p, &mut len, |_, _| {
            called = true;
            Ok(())
        })
    };
    assert_eq!(r, Err(Error::HostMemory));
    assert!(!called);
}

#[test]
fn user_names_longer_than_any_principal_are_not_read() {
    let name = *b"alice";
    assert_eq!(
        unsafe { marshal::username(name.as_ptr(), 5) }.unwrap(),
        b"alice"
    );
    assert_eq!(
        unsafe { marshal::username(null(), 0) },
        Err(Error::ArgumentsBad)
    );
    let over = CK_ULONG::try_from(crate::kms::principals::MAX_NAME + 1).unwrap();
    for n in [over, 1 << 40, 1 << 62] {
        assert_eq!(
            unsafe { marshal::username(name.as_ptr(), n) },
            Err(Error::PinIncorrect)
        );
    }
    for n in [1 << 63, CK_ULONG::MAX] {
        assert_eq!(
            unsafe { marshal::username(name.as_ptr(), n) },
            Err(Error::ArgumentsBad)
        );
    }
}
