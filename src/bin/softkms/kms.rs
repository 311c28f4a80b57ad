//! The KMS commands of `softkms`: managed keys, their lifecycle, envelope
//! encryption and data keys (`docs/cli.md`).

use super::{fail, flag, out, read_text, read_ulong, session, Opts};
use cryptoki_sys::*;
use softkms::abi::*;
use softkms::clock;
use softkms::kms::envelope::Header;
use softkms::mechanism::{Mechanism, Param};
use softkms::module::Module;
use softkms::object::attr::{decode_ulongs, Attribute};
use softkms::object::rules::AttrRead;
use softkms::outbuf::OutBuf;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};

/// All values of a repeated flag.
fn flags(words: &[String], name: &str) -> Vec<String> {
    words
        .windows(2)
        .filter(|w| w[0] == name)
        .map(|w| w[1].clone())
        .collect()
}

/// `--context k=v …` as the canonical context: a JSON object with sorted keys
/// (empty when none is given).
pub(super) fn context(o: &Opts) -> Result<Vec<u8>, String> {
    let pairs = flags(&o.words, "--context");
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let mut map = BTreeMap::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("--context wants key=value, not {p:?}"))?;
        map.insert(k.to_string(), v.to_string());
    }
    serde_json::to_vec(&map).map_err(|e| e.to_string())
}

/// The handle of the key labelled `name` (the private key of a pair).
pub(super) fn find_key(
    m: &Module,
    h: CK_SESSION_HANDLE,
    name: &str,
) -> Result<CK_OBJECT_HANDLE, String> {
    for class in [CKO_SECRET_KEY, CKO_PRIVATE_KEY] {
        let t = vec![
            Attribute::new(CKA_LABEL, name.as_bytes().to_vec()),
            Attribute::ulong(CKA_CLASS, class),
        ];
        m.find_init(h, &t).map_err(fail)?;
        let found = m.find(h, 2).map_err(fail)?;
        m.find_final(h).map_err(fail)?;
        match found.as_slice() {
            [k] => return Ok(*k),
            [] => continue,
            _ => return Err(format!("more than one key is labelled {name:?}")),
        }
    }
    Err(format!("no key labelled {name:?}"))
}

fn find_by_uid(m: &Module, h: CK_SESSION_HANDLE, uid: &str) -> Result<CK_OBJECT_HANDLE, String> {
    m.find_init(
        h,
        &vec![Attribute::new(CKA_UNIQUE_ID, uid.as_bytes().to_vec())],
    )
    .map_err(fail)?;
    let found = m.find(h, 1).map_err(fail)?;
    m.find_final(h).map_err(fail)?;
    found
        .first()
        .copied()
        .ok_or_else(|| format!("the key {uid} that the message names is not on this token"))
}

fn envelope(ctx: &[u8]) -> Mechanism {
    Mechanism {
        mech: CKM_SOFTKMS_ENVELOPE,
        param: Param::Envelope {
            context: ctx.to_vec(),
        },
    }
}

fn state_name(s: Option<CK_ULONG>) -> &'static str {
    match s {
        Some(SOFTKMS_KEY_STATE_ENABLED) => "Enabled",
        Some(SOFTKMS_KEY_STATE_DISABLED) => "Disabled",
        Some(SOFTKMS_KEY_STATE_PENDING_DELETION) => "PendingDeletion",
        Some(SOFTKMS_KEY_STATE_PENDING_IMPORT) => "PendingImport",
        _ => "Unknown",
    }
}

fn spec_of(m: &Module, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) -> String {
    match read_ulong(m, h, k, CKA_KEY_TYPE) {
        Some(CKK_AES) => format!("aes{}", read_ulong(m, h, k, CKA_VALUE_LEN).unwrap_or(0) * 8),
        Some(CKK_RSA) => format!("rsa{}", read_ulong(m, h, k, CKA_MODULUS_BITS).unwrap_or(0)),
        Some(CKK_EC) => "p256".into(),
        Some(CKK_GENERIC_SECRET) => format!(
            "hmac{}",
            read_ulong(m, h, k, CKA_VALUE_LEN).unwrap_or(0) * 8
        ),
        _ => "other".into(),
    }
}

fn time_or_null(t: Option<CK_ULONG>) -> serde_json::Value {
    match t.and_then(|v| i64::try_from(v).ok()) {
        Some(v) if v > 0 => serde_json::Value::String(clock::rfc3339(v)),
        _ => serde_json::Value::Null,
    }
}

/// The JSON description of a key (`key show`, `key list`).
fn describe(m: &Module, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) -> serde_json::Value {
    let times = m
        .get_attributes(h, k, &[CKA_SOFTKMS_VERSION_TIMES])
        .ok()
        .and_then(|mut v| v.pop());
    let versions: Vec<serde_json::Value> = match times {
        Some(AttrRead::Value(v)) => decode_ulongs(CKA_SOFTKMS_VERSION_TIMES, &v)
            .unwrap_or_default()
            .chunks(2)
            .map(|p| serde_json::json!({"version": p[0], "created": time_or_null(p.get(1).copied())}))
            .collect(),
        _ => Vec::new(),
    };
    let origin = match read_ulong(m, h, k, CKA_SOFTKMS_ORIGIN) {
        Some(SOFTKMS_ORIGIN_EXTERNAL) => "external",
        _ => "softkms",
    };
    serde_json::json!({
        "label": read_text(m, h, k, CKA_LABEL),
        "id": read_text(m, h, k, CKA_UNIQUE_ID),
        "spec": spec_of(m, h, k),
        "state": state_name(read_ulong(m, h, k, CKA_SOFTKMS_KEY_STATE)),
        "origin": origin,
        "current_version": read_ulong(m, h, k, CKA_SOFTKMS_CURRENT_VERSION),
        "min_decrypt_version": read_ulong(m, h, k, CKA_SOFTKMS_MIN_DECRYPT_VERSION),
        "versions": versions,
        "rotation_period_days": read_ulong(m, h, k, CKA_SOFTKMS_ROTATION_PERIOD).unwrap_or(0),
        "next_rotation": time_or_null(read_ulong(m, h, k, CKA_SOFTKMS_NEXT_ROTATION)),
        "deletion_time": time_or_null(read_ulong(m, h, k, CKA_SOFTKMS_DELETION_TIME)),
        "valid_to": time_or_null(read_ulong(m, h, k, CKA_SOFTKMS_VALID_TO)),
        "policy": super::users::policy_json(m, h, k),
    })
}

fn print_key(o: &Opts, d: &serde_json::Value) {
    if o.json {
        out(&d.to_string());
        return;
    }
    let s = |k: &str| match &d[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        v => v.to_string(),
    };
    out(&format!(
        "{:<24} {:<8} {:<16} v{:<3} {}",
        s("label"),
        s("spec"),
        s("state"),
        s("current_version"),
        s("id")
    ));
}

pub(super) fn key_list(m: &Module, o: &Opts) -> Result<(), String> {
    let h = session(m, o.slot, true)?;
    let mut keys = Vec::new();
    for class in [CKO_SECRET_KEY, CKO_PRIVATE_KEY] {
        let t = vec![
            Attribute::ulong(CKA_CLASS, class),
            Attribute::bool(CKA_TOKEN, true),
        ];
        m.find_init(h, &t).map_err(fail)?;
        keys.extend(m.find(h, usize::MAX).map_err(fail)?);
        m.find_final(h).map_err(fail)?;
    }
    let all: Vec<serde_json::Value> = keys.iter().map(|k| describe(m, h, *k)).collect();
    if o.json {
        out(&serde_json::Value::Array(all).to_string());
    } else {
        for d in &all {
            print_key(o, d);
        }
    }
    Ok(())
}

pub(super) fn key_show(m: &Module, o: &Opts) -> Result<(), String> {
    let name = o.words.get(2).ok_or("key show needs a NAME")?;
    let h = session(m, o.slot, true)?;
    let d = describe(m, h, find_key(m, h, name)?);
    if o.json {
        out(&d.to_string());
    } else {
        out(&serde_json::to_string_pretty(&d).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// `key rotate|enable|disable|schedule-deletion|cancel-deletion NAME`.
pub(super) fn key_lifecycle(m: &Module, o: &Opts, verb: &str) -> Result<(), String> {
    let name = o
        .words
        .get(2)
        .ok_or_else(|| format!("key {verb} needs a NAME"))?;
    let h = session(m, o.slot, true)?;
    let k = find_key(m, h, name)?;
    let state = |s| vec![Attribute::ulong(CKA_SOFTKMS_KEY_STATE, s)];
    let t = match verb {
        "rotate" => vec![Attribute::bool(CKA_SOFTKMS_ROTATE, true)],
        "enable" => state(SOFTKMS_KEY_STATE_ENABLED),
        "disable" | "cancel-deletion" => state(SOFTKMS_KEY_STATE_DISABLED),
        "schedule-deletion" => {
            let days: CK_ULONG = flag(&o.words, "--days")
                .map(|d| d.parse())
                .transpose()
                .map_err(|_| "--days needs a number")?
                .unwrap_or(30);
            let mut t = vec![Attribute::ulong(CKA_SOFTKMS_PENDING_WINDOW, days)];
            t.extend(state(SOFTKMS_KEY_STATE_PENDING_DELETION));
            t
        }
        _ => return Err(format!("unknown key command {verb}")),
    };
    m.set_attributes(h, k, &t).map_err(fail)?;
    print_key(o, &describe(m, h, k));
    Ok(())
}

fn read_input(o: &Opts) -> Result<Box<dyn Read>, String> {
    Ok(match flag(&o.words, "--in") {
        Some(p) if p != "-" => Box::new(std::fs::File::open(&p).map_err(|e| format!("{p}: {e}"))?),
        _ => Box::new(std::io::stdin()),
    })
}

fn write_output(o: &Opts) -> Result<Box<dyn Write>, String> {
    Ok(match flag(&o.words, "--out") {
        Some(p) if p != "-" => {
            Box::new(std::fs::File::create(&p).map_err(|e| format!("{p}: {e}"))?)
        }
        _ => Box::new(std::io::stdout()),
    })
}

/// Calls a size query, then the call, and returns the output.
fn call(mut f: impl FnMut(&mut OutBuf) -> softkms::error::Result<()>) -> Result<Vec<u8>, String> {
    let mut q = OutBuf::query();
    f(&mut q).map_err(fail)?;
    let mut res = vec![0u8; q.len()];
    let len = {
        let mut ob = OutBuf::new(Some(&mut res));
        f(&mut ob).map_err(fail)?;
        ob.len()
    };
    res.truncate(len);
    Ok(res)
}

/// Runs a multi-part envelope operation over the input, 1 MiB at a time: any
/// size in bounded memory.
fn stream(
    m: &Module,
    h: CK_SESSION_HANDLE,
    o: &Opts,
    mut input: Box<dyn Read>,
    first: Vec<u8>,
    encrypting: bool,
) -> Result<(), String> {
    let mut output = write_output(o)?;
    let progress = std::io::stderr().is_terminal() && flag(&o.words, "--in").is_some();
    let mut buf = first;
    let mut done: u64 = 0;
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        let n = input.read(&mut chunk).map_err(|e| e.to_string())?;
        buf.extend_from_slice(&chunk[..n]);
        if !buf.is_empty() {
            let res = call(|ob| {
                if encrypting {
                    m.encrypt_update(h, &buf, ob)
                } else {
                    m.decrypt_update(h, &buf, ob)
                }
            })?;
            output.write_all(&res).map_err(|e| e.to_string())?;
            done += u64::try_from(buf.len()).unwrap_or(0);
            buf.clear();
            if progress {
                eprint!("\r{} MiB", done >> 20);
            }
        }
        if n == 0 {
            break;
        }
    }
    let res = call(|ob| {
        if encrypting {
            m.encrypt_final(h, ob)
        } else {
            m.decrypt_final(h, ob)
        }
    })?;
    output.write_all(&res).map_err(|e| e.to_string())?;
    output.flush().map_err(|e| e.to_string())?;
    if progress {
        eprintln!();
    }
    Ok(())
}

pub(super) fn encrypt(m: &Module, o: &Opts) -> Result<(), String> {
    let name = flag(&o.words, "--key").ok_or("encrypt needs --key NAME")?;
    let h = session(m, o.slot, true)?;
    let k = find_key(m, h, &name)?;
    m.encrypt_init(h, &envelope(&context(o)?), k)
        .map_err(fail)?;
    stream(m, h, o, read_input(o)?, Vec::new(), true)
}

pub(super) fn decrypt(m: &Module, o: &Opts) -> Result<(), String> {
    let h = session(m, o.slot, true)?;
    let mut input = read_input(o)?;
    // The header names the key: read enough of it to find the key.
    let mut head = Vec::new();
    let key_id = loop {
        let mut b = [0u8; 4096];
        let n = input.read(&mut b).map_err(|e| e.to_string())?;
        head.extend_from_slice(&b[..n]);
        match Header::parse(&head) {
            Ok(Some((hd, _))) => break hd.key_id,
            Ok(None) if n > 0 => continue,
            _ => return Err("the input is not a SoftKMS envelope message".into()),
        }
    };
    let k = find_by_uid(m, h, &key_id)?;
    m.decrypt_init(h, &envelope(&context(o)?), k)
        .map_err(fail)?;
    stream(m, h, o, input, head, false)
}

fn b64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let byte = |i: usize| u32::from(c.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4usize {
            if i <= c.len() {
                let shift = 18 - 6 * u32::try_from(i).unwrap_or(0);
                s.push(char::from(
                    A[usize::try_from((n >> shift) & 63).unwrap_or(0)],
                ));
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn data_key_template(bytes: CK_ULONG, plain: bool) -> Vec<Attribute> {
    vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        Attribute::bool(CKA_TOKEN, false),
        Attribute::ulong(CKA_VALUE_LEN, bytes),
        Attribute::bool(CKA_SENSITIVE, !plain),
        Attribute::bool(CKA_EXTRACTABLE, true),
    ]
}

pub(super) fn datakey(m: &Module, o: &Opts, verb: &str) -> Result<(), String> {
    let h = session(m, o.slot, true)?;
    let ctx = context(o)?;
    match verb {
        "generate" => {
            let name = flag(&o.words, "--key").ok_or("datakey generate needs --key NAME")?;
            let bytes: CK_ULONG = flag(&o.words, "--bytes")
                .map(|d| d.parse())
                .transpose()
                .map_err(|_| "--bytes needs a number")?
                .unwrap_or(32);
            let k = find_key(m, h, &name)?;
            let param = Param::GenerateDataKey {
                context: ctx,
                capacity: Some(64 * 1024),
                wrapped: Vec::new(),
                needed: 0,
            };
            let mut mech = Mechanism {
                mech: CKM_SOFTKMS_GENERATE_DATA_KEY,
                param,
            };
            let dk = m
                .derive_key(h, &mut mech, k, &data_key_template(bytes, true))
                .map_err(fail)?;
            let Param::GenerateDataKey { wrapped, .. } = mech.param else {
                return Err("no wrapped key returned".into());
            };
            let plain = match m.get_attributes(h, dk, &[CKA_VALUE]).map_err(fail)?.pop() {
                Some(AttrRead::Value(v)) => v,
                _ => return Err("the data key's value is unreadable".into()),
            };
            let _ = m.destroy_object(h, dk);
            if let Some(p) = flag(&o.words, "--out") {
                std::fs::write(&p, &wrapped).map_err(|e| format!("{p}: {e}"))?;
            }
            if o.json {
                let key_id = read_text(m, h, k, CKA_UNIQUE_ID);
                out(&serde_json::json!({"plaintext": b64(&plain), "ciphertext_blob": b64(&wrapped), "key_id": key_id}).to_string());
            } else {
                out(&format!("plaintext:       {}", hex(&plain)));
                out(&format!("ciphertext blob: {}", b64(&wrapped)));
            }
            Ok(())
        }
        "decrypt" | "re-encrypt" => {
            let p = flag(&o.words, "--blob")
                .ok_or_else(|| format!("datakey {verb} needs --blob FILE"))?;
            let blob = std::fs::read(&p).map_err(|e| format!("{p}: {e}"))?;
            let (hd, _) = Header::parse(&blob)
                .ok()
                .flatten()
                .ok_or("the blob is not a SoftKMS envelope message")?;
            let from = find_by_uid(m, h, &hd.key_id)?;
            if verb == "decrypt" {
                m.decrypt_init(h, &envelope(&ctx), from).map_err(fail)?;
                let plain = zeroize::Zeroizing::new(call(|ob| m.decrypt(h, &blob, ob))?);
                if o.json {
                    out(&serde_json::json!({"plaintext": b64(&plain), "key_id": hd.key_id, "key_version": hd.key_version}).to_string());
                } else {
                    out(&hex(&plain));
                }
                return Ok(());
            }
            let name = flag(&o.words, "--key").ok_or("datakey re-encrypt needs --key NAME")?;
            let to = find_key(m, h, &name)?;
            // Unwrap into a sensitive session key, wrap under the new key: the
            // plaintext never leaves the module.
            let tmp = m
                .unwrap_key(
                    h,
                    &envelope(&ctx),
                    from,
                    &blob,
                    &data_key_template(0, false)[..3]
                        .iter()
                        .cloned()
                        .chain([
                            Attribute::bool(CKA_SENSITIVE, true),
                            Attribute::bool(CKA_EXTRACTABLE, true),
                        ])
                        .collect(),
                )
                .map_err(fail)?;
            let res = call(|ob| m.wrap_key(h, &envelope(&ctx), to, tmp, ob));
            let _ = m.destroy_object(h, tmp);
            let res = res?;
            match flag(&o.words, "--out") {
                Some(p) => std::fs::write(&p, &res).map_err(|e| format!("{p}: {e}"))?,
                None if o.json => {
                    out(&serde_json::json!({"ciphertext_blob": b64(&res)}).to_string())
                }
                None => out(&b64(&res)),
            }
            Ok(())
        }
        _ => Err(format!("unknown datakey command {verb}")),
    }
}

/// Label of the token's RSA key pair for importing material (like AWS KMS's
/// `GetParametersForImport`): made on first use, RSA-3072, OAEP with SHA-256.
pub(super) const IMPORT_KEY_LABEL: &str = "softkms-import";

/// The import key pair (public, private), made on first use.
fn import_key_pair(
    m: &Module,
    h: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), String> {
    let find = |class| -> Result<Option<CK_OBJECT_HANDLE>, String> {
        let t = vec![
            Attribute::new(CKA_LABEL, IMPORT_KEY_LABEL.as_bytes().to_vec()),
            Attribute::ulong(CKA_CLASS, class),
        ];
        m.find_init(h, &t).map_err(fail)?;
        let f = m.find(h, 1).map_err(fail)?;
        m.find_final(h).map_err(fail)?;
        Ok(f.first().copied())
    };
    if let (Some(p), Some(k)) = (find(CKO_PUBLIC_KEY)?, find(CKO_PRIVATE_KEY)?) {
        return Ok((p, k));
    }
    let label = Attribute::new(CKA_LABEL, IMPORT_KEY_LABEL.as_bytes().to_vec());
    let public = vec![
        label.clone(),
        Attribute::bool(CKA_TOKEN, true),
        Attribute::ulong(CKA_MODULUS_BITS, 3072),
        Attribute::new(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
        Attribute::bool(CKA_ENCRYPT, true),
        Attribute::bool(CKA_WRAP, true),
        Attribute::bool(CKA_VERIFY, false),
    ];
    let private = vec![
        label,
        Attribute::bool(CKA_TOKEN, true),
        Attribute::bool(CKA_PRIVATE, true),
        Attribute::bool(CKA_SENSITIVE, true),
        Attribute::bool(CKA_EXTRACTABLE, false),
        Attribute::bool(CKA_UNWRAP, true),
        Attribute::bool(CKA_DECRYPT, false),
        Attribute::bool(CKA_SIGN, false),
    ];
    let mech = Mechanism {
        mech: CKM_RSA_PKCS_KEY_PAIR_GEN,
        param: Param::None,
    };
    m.generate_key_pair(h, &mech, &public, &private)
        .map_err(fail)
}

fn oaep_sha256() -> Mechanism {
    Mechanism {
        mech: CKM_RSA_PKCS_OAEP,
        param: Param::Oaep {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            label: Vec::new(),
        },
    }
}

/// `key import NAME --material FILE [--valid-to RFC3339]`: 256-bit material,
/// wrapped with the token's import key (RSA-OAEP SHA-256) and unwrapped into a
/// managed key of origin "external". A key NAME in PendingImport takes the same
/// material again (and only the same).
pub(super) fn key_import(m: &Module, o: &Opts) -> Result<(), String> {
    let name = o.words.get(2).ok_or("key import needs a NAME")?;
    let path = flag(&o.words, "--material").ok_or("key import needs --material FILE")?;
    let material =
        zeroize::Zeroizing::new(std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?);
    if material.len() != 32 {
        return Err(format!(
            "{path}: key material must be 32 bytes (AES-256), not {}",
            material.len()
        ));
    }
    let valid_to = match flag(&o.words, "--valid-to") {
        Some(t) => clock::parse_rfc3339(&t).ok_or("--valid-to wants YYYY-MM-DDTHH:MM:SSZ")?,
        None => 0,
    };
    let valid_to = CK_ULONG::try_from(valid_to).map_err(|_| "--valid-to is before 1970")?;
    let h = session(m, o.slot, true)?;
    let (public, private) = import_key_pair(m, h)?;
    m.encrypt_init(h, &oaep_sha256(), public).map_err(fail)?;
    let wrapped = call(|ob| m.encrypt(h, &material, ob))?;
    let existing = find_key(m, h, name).ok();
    let mut t = vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_AES),
        Attribute::bool(CKA_TOKEN, existing.is_none()),
        Attribute::bool(CKA_SENSITIVE, true),
        Attribute::bool(CKA_EXTRACTABLE, false),
    ];
    if existing.is_none() {
        t.push(Attribute::new(CKA_LABEL, name.as_bytes().to_vec()));
        t.push(Attribute::bool(CKA_PRIVATE, true));
        for u in [CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE] {
            t.push(Attribute::bool(u, true));
        }
        t.push(Attribute::ulong(CKA_SOFTKMS_VALID_TO, valid_to));
    }
    let k = m
        .unwrap_key(h, &oaep_sha256(), private, &wrapped, &t)
        .map_err(fail)?;
    let key = match existing {
        None => k,
        Some(target) => {
            let set = vec![
                Attribute::ulong(CKA_SOFTKMS_IMPORT_FROM, k),
                Attribute::ulong(CKA_SOFTKMS_VALID_TO, valid_to),
            ];
            let r = m.set_attributes(h, target, &set).map_err(fail);
            let _ = m.destroy_object(h, k);
            r?;
            target
        }
    };
    print_key(o, &describe(m, h, key));
    Ok(())
}
