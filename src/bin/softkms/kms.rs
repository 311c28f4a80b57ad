//! The KMS commands of `softkms`: managed keys, their lifecycle, envelope
//! encryption and data keys (`docs/cli.md`).

use super::{fail, flag, out, session, Opts};
use softkms::api::{
    message_key_id, EncryptionContext, KeyMetadata, KeyRef, SecretBytes, Softkms, Timestamp, Token,
};
use std::io::{IsTerminal, Read, Write};

/// All values of a repeated flag.
fn flags(words: &[String], name: &str) -> Vec<String> {
    words
        .windows(2)
        .filter(|w| w[0] == name)
        .map(|w| w[1].clone())
        .collect()
}

/// `--context k=v …` as an encryption context (empty when none is given).
pub(super) fn context(o: &Opts) -> Result<EncryptionContext, String> {
    let mut ctx = EncryptionContext::new();
    for p in flags(&o.words, "--context") {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("--context wants key=value, not {p:?}"))?;
        ctx.insert(k, v);
    }
    Ok(ctx)
}

fn time_or_null(t: Option<Timestamp>) -> serde_json::Value {
    match t {
        Some(t) => serde_json::Value::String(t.to_rfc3339()),
        None => serde_json::Value::Null,
    }
}

/// The JSON description of a key (`key show`, `key list`).
fn describe(k: &KeyMetadata) -> serde_json::Value {
    let versions: Vec<serde_json::Value> = k
        .versions
        .iter()
        .map(|v| serde_json::json!({"version": v.version, "created": time_or_null(v.created)}))
        .collect();
    serde_json::json!({
        "label": k.label.as_deref().unwrap_or_default(),
        "id": k.id.as_str(),
        "spec": k.spec_name,
        "state": k.state.map_or("Unknown", |s| s.name()),
        "origin": k.origin.name(),
        "current_version": k.current_version,
        "min_decrypt_version": k.min_decrypt_version,
        "versions": versions,
        "rotation_period_days": k.rotation_period_days.unwrap_or(0),
        "next_rotation": time_or_null(k.next_rotation),
        "deletion_time": time_or_null(k.deletion_time),
        "valid_to": time_or_null(k.valid_to),
        "policy": k.policy.as_ref().map_or(serde_json::Value::Null, |p| p.to_json()),
    })
}

fn print_key(o: &Opts, k: &KeyMetadata) {
    let d = describe(k);
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

pub(super) fn key_list(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = session(kms, o.slot, true)?;
    let keys = t.list_keys().map_err(fail)?;
    if o.json {
        let all: Vec<serde_json::Value> = keys.iter().map(describe).collect();
        out(&serde_json::Value::Array(all).to_string());
    } else {
        for k in &keys {
            print_key(o, k);
        }
    }
    Ok(())
}

pub(super) fn key_show(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = o.words.get(2).ok_or("key show needs a NAME")?;
    let t = session(kms, o.slot, true)?;
    let d = describe(&t.describe_key(&KeyRef::label(name)).map_err(fail)?);
    if o.json {
        out(&d.to_string());
    } else {
        out(&serde_json::to_string_pretty(&d).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// `key rotate|enable|disable|schedule-deletion|cancel-deletion NAME`.
pub(super) fn key_lifecycle(kms: &Softkms, o: &Opts, verb: &str) -> Result<(), String> {
    let name = o
        .words
        .get(2)
        .ok_or_else(|| format!("key {verb} needs a NAME"))?;
    let t = session(kms, o.slot, true)?;
    let key = KeyRef::label(name);
    let k = match verb {
        "rotate" => t.rotate_key(&key),
        "enable" => t.enable_key(&key),
        "disable" => t.disable_key(&key),
        "cancel-deletion" => t.cancel_key_deletion(&key),
        "schedule-deletion" => {
            let days: u64 = flag(&o.words, "--days")
                .map(|d| d.parse())
                .transpose()
                .map_err(|_| "--days needs a number")?
                .unwrap_or(30);
            t.schedule_key_deletion(&key, Some(days))
        }
        _ => return Err(format!("unknown key command {verb}")),
    }
    .map_err(fail)?;
    print_key(o, &k);
    Ok(())
}

/// `--in F` (default: stdin), opened at the first read: a command that fails
/// before it reads leaves no trace of having opened it.
struct Input {
    path: Option<String>,
    open: Option<Box<dyn Read>>,
}

impl Input {
    fn new(o: &Opts) -> Input {
        Input {
            path: flag(&o.words, "--in").filter(|p| p != "-"),
            open: None,
        }
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.open.is_none() {
            self.open = Some(match &self.path {
                Some(p) => Box::new(
                    std::fs::File::open(p)
                        .map_err(|e| std::io::Error::new(e.kind(), format!("{p}: {e}")))?,
                ),
                None => Box::new(std::io::stdin()),
            });
        }
        match &mut self.open {
            Some(r) => r.read(buf),
            None => Ok(0),
        }
    }
}

/// `--out F` (default: stdout), created at the first write: a command that
/// fails before it has output leaves no empty file behind.
struct Output {
    path: Option<String>,
    open: Option<Box<dyn Write>>,
}

impl Output {
    fn new(o: &Opts) -> Output {
        Output {
            path: flag(&o.words, "--out").filter(|p| p != "-"),
            open: None,
        }
    }

    fn get(&mut self) -> std::io::Result<&mut Box<dyn Write>> {
        if self.open.is_none() {
            self.open = Some(match &self.path {
                Some(p) => Box::new(
                    std::fs::File::create(p)
                        .map_err(|e| std::io::Error::new(e.kind(), format!("{p}: {e}")))?,
                ),
                None => Box::new(std::io::stdout()),
            });
        }
        self.open
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no output"))
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.get()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.get()?.flush()
    }
}

/// Runs an encryption or decryption over `--in` into `--out`, 1 MiB at a
/// time, with progress on a terminal.
fn stream(
    o: &Opts,
    run: impl FnOnce(&mut Input, &mut Output, &mut dyn FnMut(u64)) -> Result<(), String>,
) -> Result<(), String> {
    let progress = std::io::stderr().is_terminal() && flag(&o.words, "--in").is_some();
    let mut show = |done: u64| {
        if progress {
            eprint!("\r{} MiB", done >> 20);
        }
    };
    run(&mut Input::new(o), &mut Output::new(o), &mut show)?;
    if progress {
        eprintln!();
    }
    Ok(())
}

pub(super) fn encrypt(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = flag(&o.words, "--key").ok_or("encrypt needs --key NAME")?;
    let t = session(kms, o.slot, true)?;
    let ctx = context(o)?;
    stream(o, |input, output, progress| {
        t.encrypt_stream(&KeyRef::label(name), &ctx, input, output, progress)
            .map(|_| ())
            .map_err(fail)
    })
}

pub(super) fn decrypt(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = session(kms, o.slot, true)?;
    let ctx = context(o)?;
    stream(o, |input, output, progress| {
        t.decrypt_stream(&ctx, input, output, progress)
            .map(|_| ())
            .map_err(fail)
    })
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

/// A secret's hex or base64 text, wiped when dropped.
fn secret_text(s: &SecretBytes, base64: bool) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(if base64 {
        b64(s.as_bytes())
    } else {
        hex(s.as_bytes())
    })
}

fn datakey_generate(t: &Token, o: &Opts) -> Result<(), String> {
    let ctx = context(o)?;
    let name = flag(&o.words, "--key").ok_or("datakey generate needs --key NAME")?;
    let bytes: usize = flag(&o.words, "--bytes")
        .map(|d| d.parse())
        .transpose()
        .map_err(|_| "--bytes needs a number")?
        .unwrap_or(32);
    let dk = t
        .generate_data_key(&KeyRef::label(name), bytes, &ctx)
        .map_err(fail)?;
    if let Some(p) = flag(&o.words, "--out") {
        std::fs::write(&p, &dk.ciphertext_blob).map_err(|e| format!("{p}: {e}"))?;
    }
    if o.json {
        let plain = secret_text(&dk.plaintext, true);
        out(&serde_json::json!({"plaintext": plain.as_str(), "ciphertext_blob": b64(&dk.ciphertext_blob), "key_id": dk.key_id.as_str()}).to_string());
    } else {
        out(&format!(
            "plaintext:       {}",
            secret_text(&dk.plaintext, false).as_str()
        ));
        out(&format!("ciphertext blob: {}", b64(&dk.ciphertext_blob)));
    }
    Ok(())
}

pub(super) fn datakey(kms: &Softkms, o: &Opts, verb: &str) -> Result<(), String> {
    let t = session(kms, o.slot, true)?;
    match verb {
        "generate" => datakey_generate(&t, o),
        "decrypt" | "re-encrypt" => {
            let ctx = context(o)?;
            let p = flag(&o.words, "--blob")
                .ok_or_else(|| format!("datakey {verb} needs --blob FILE"))?;
            let blob = std::fs::read(&p).map_err(|e| format!("{p}: {e}"))?;
            message_key_id(&blob).map_err(|_| "the blob is not a SoftKMS envelope message")?;
            if verb == "decrypt" {
                let d = t.decrypt(&blob, &ctx).map_err(fail)?;
                if o.json {
                    let plain = secret_text(&d.plaintext, true);
                    out(&serde_json::json!({"plaintext": plain.as_str(), "key_id": d.key_id.as_str(), "key_version": d.key_version}).to_string());
                } else {
                    out(secret_text(&d.plaintext, false).as_str());
                }
                return Ok(());
            }
            let name = flag(&o.words, "--key").ok_or("datakey re-encrypt needs --key NAME")?;
            // Unwrapped into a sensitive session key, wrapped under the new
            // key: the plaintext never leaves the module.
            let res = t
                .re_encrypt(&blob, &ctx, &KeyRef::label(name), &ctx)
                .map_err(fail)?;
            match flag(&o.words, "--out") {
                Some(p) => {
                    std::fs::write(&p, &res.ciphertext_blob).map_err(|e| format!("{p}: {e}"))?
                }
                None if o.json => out(
                    &serde_json::json!({"ciphertext_blob": b64(&res.ciphertext_blob)}).to_string(),
                ),
                None => out(&b64(&res.ciphertext_blob)),
            }
            Ok(())
        }
        _ => Err(format!("unknown datakey command {verb}")),
    }
}

/// `key import NAME --material FILE [--valid-to RFC3339]`: 256-bit material,
/// wrapped with the token's import key (RSA-OAEP SHA-256) and unwrapped into a
/// managed key of origin "external". A key NAME in PendingImport takes the same
/// material again (and only the same).
pub(super) fn key_import(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = o.words.get(2).ok_or("key import needs a NAME")?;
    let path = flag(&o.words, "--material").ok_or("key import needs --material FILE")?;
    let material = SecretBytes::new(std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?);
    if material.len() != 32 {
        return Err(format!(
            "{path}: key material must be 32 bytes (AES-256), not {}",
            material.len()
        ));
    }
    let valid_to = match flag(&o.words, "--valid-to") {
        Some(t) => Some(
            Timestamp::parse_rfc3339(&t).map_err(|_| "--valid-to wants YYYY-MM-DDTHH:MM:SSZ")?,
        ),
        None => None,
    };
    if valid_to.is_some_and(|t| t.unix() < 0) {
        return Err("--valid-to is before 1970".into());
    }
    let t = session(kms, o.slot, true)?;
    let k = t
        .import_key_material(name, &material, valid_to)
        .map_err(fail)?;
    print_key(o, &k);
    Ok(())
}
