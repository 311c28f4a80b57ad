//! The data commands of `softkms`: envelope encryption, re-encryption, data
//! keys and data key pairs, signatures, MACs and public keys (`docs/cli.md`).

use super::io::{self, b64, decode_binary, Input, Output, ENVELOPE_MAGIC};
use super::keys::{key_ref, pair};
use super::{Ctx, Outcome};
use clap::{Args, Subcommand, ValueEnum};
use softkms::api::{
    EncryptionContext, Error, ErrorKind, KeySpec, MacAlgorithm, MessageType, SigningAlgorithm,
    Token, MAX_ONE_SHOT_BYTES,
};

/// The encryption context flags.
#[derive(Args)]
pub(crate) struct ContextArgs {
    /// A pair of the encryption context (repeatable); the same pairs are
    /// needed to decrypt.
    #[arg(long = "context", value_parser = pair, value_name = "KEY=VALUE")]
    context: Vec<(String, String)>,
}

impl ContextArgs {
    fn get(&self) -> EncryptionContext {
        let mut ctx = EncryptionContext::new();
        for (k, v) in &self.context {
            ctx.insert(k, v);
        }
        ctx
    }
}

/// Where a binary result goes.
#[derive(Args)]
pub(crate) struct OutArgs {
    /// Write to FILE (`-`: stdout, even a terminal).
    #[arg(long, value_name = "FILE")]
    out: Option<String>,
    /// Write base64 text instead of bytes.
    #[arg(long)]
    base64: bool,
}

impl OutArgs {
    fn open(&self) -> Result<Output, Error> {
        Output::new(self.out.as_deref(), self.base64)
    }

    /// Where a one-shot result goes: with `--json` and no `--out`, into the
    /// JSON document (`None`); else the binary output.
    fn for_result(&self, c: &Ctx) -> Result<Option<Output>, Error> {
        if c.json && self.out.is_none() {
            return Ok(None);
        }
        self.open().map(Some)
    }
}

/// Ends a one-shot command whose result is `bytes`: into `output`, or (with
/// `--json`) as the base64 `field` of `meta`; with `--json` and a file, `meta`
/// says where it went.
fn emit(
    c: &Ctx,
    output: Option<Output>,
    bytes: &[u8],
    mut meta: serde_json::Value,
    field: &str,
) -> Outcome {
    match output {
        None => {
            meta[field] = serde_json::Value::String(b64(bytes));
            c.print(&meta, Vec::new);
            io::wipe_field(&mut meta, field);
        }
        Some(o) => {
            let to_file = o.to_file();
            o.finish(bytes)?;
            if c.json && to_file {
                super::out(&meta.to_string());
            }
        }
    }
    Ok(true)
}

#[derive(Args)]
pub(crate) struct EncryptArgs {
    /// The key: label, id or alias/NAME (a managed symmetric key).
    #[arg(long)]
    key: String,
    #[command(flatten)]
    context: ContextArgs,
    /// Read the plaintext from FILE (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<String>,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args)]
pub(crate) struct DecryptArgs {
    #[command(flatten)]
    context: ContextArgs,
    /// Read the message from FILE (default: stdin); bytes or base64.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<String>,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args)]
pub(crate) struct ReEncryptArgs {
    /// The key to encrypt under from now on.
    #[arg(long)]
    key: String,
    #[command(flatten)]
    context: ContextArgs,
    /// A pair of the context the message was encrypted with (repeatable).
    #[arg(long = "source-context", value_parser = pair, value_name = "KEY=VALUE")]
    source_context: Vec<(String, String)>,
    /// Read the message from FILE (default: stdin); bytes or base64.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<String>,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Subcommand)]
pub(crate) enum DatakeyCmd {
    /// A fresh data key: its plaintext to use, its ciphertext blob to keep.
    Generate {
        /// The managed key that encrypts it.
        #[arg(long)]
        key: String,
        /// Its length in bytes (1 to 1024).
        #[arg(long, default_value_t = 32)]
        bytes: usize,
        #[command(flatten)]
        context: ContextArgs,
        /// Only the ciphertext blob: the plaintext never leaves the module.
        #[arg(long)]
        without_plaintext: bool,
        /// Write the blob (bytes) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
    /// A fresh key pair: its public key, its private key (PKCS#8) and the
    /// private key's ciphertext blob.
    GeneratePair {
        /// The managed key that encrypts the private key.
        #[arg(long)]
        key: String,
        /// The pair's spec: rsa2048/3072/4096, p256, p384, p521, secp256k1,
        /// ed25519.
        #[arg(long)]
        spec: String,
        #[command(flatten)]
        context: ContextArgs,
        /// Only the public key and the blob.
        #[arg(long)]
        without_plaintext: bool,
        /// Write the private key's blob (bytes) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
    /// The plaintext of a data key's ciphertext blob.
    Decrypt {
        /// The blob (bytes, or the base64 that generate printed).
        #[arg(long, value_name = "FILE")]
        blob: String,
        #[command(flatten)]
        context: ContextArgs,
        /// Write the plaintext (bytes) to FILE instead of printing it in hex.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
    /// The same data key under another key; its plaintext never leaves the
    /// module.
    ReEncrypt {
        /// The blob.
        #[arg(long, value_name = "FILE")]
        blob: String,
        /// The key to encrypt it under.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        context: ContextArgs,
        /// Write the new blob (bytes) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
}

/// `--message-type`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    /// The message itself.
    Raw,
    /// Its digest under the algorithm's hash.
    Digest,
}

#[derive(Args)]
pub(crate) struct SignArgs {
    /// The key (a signing key pair).
    #[arg(long)]
    key: String,
    /// AWS KMS's algorithm name (default: the key's own, e.g. ECDSA_SHA_256
    /// for P-256, RSASSA_PSS_SHA_256 for RSA).
    #[arg(long)]
    algorithm: Option<String>,
    /// What is read: the message, or its digest.
    #[arg(long, value_enum, default_value = "raw")]
    message_type: Kind,
    /// Read the message from FILE (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<String>,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// The key (either half of the pair).
    #[arg(long)]
    key: String,
    /// The signature (bytes, or base64).
    #[arg(long, value_name = "FILE")]
    signature: String,
    /// The algorithm it was made with (default: the key's own).
    #[arg(long)]
    algorithm: Option<String>,
    /// What is read: the message, or its digest.
    #[arg(long, value_enum, default_value = "raw")]
    message_type: Kind,
    /// Read the message from FILE (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<String>,
}

/// `--format`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KeyFormat {
    /// PEM text ("BEGIN PUBLIC KEY").
    Pem,
    /// DER bytes (SubjectPublicKeyInfo).
    Der,
}

#[derive(Args)]
pub(crate) struct PublicKeyArgs {
    /// The key.
    key: String,
    /// PEM text or DER bytes.
    #[arg(long, value_enum, default_value = "pem")]
    format: KeyFormat,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Subcommand)]
pub(crate) enum MacCmd {
    /// The HMAC of a message.
    Generate {
        /// The HMAC key.
        #[arg(long)]
        key: String,
        /// HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (default:
        /// the key's own).
        #[arg(long)]
        algorithm: Option<String>,
        /// Read the message from FILE (default: stdin).
        #[arg(long = "in", value_name = "FILE")]
        input: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Check an HMAC (exit 0 valid, 1 not valid).
    Verify {
        /// The HMAC key.
        #[arg(long)]
        key: String,
        /// The MAC (bytes, or base64).
        #[arg(long, value_name = "FILE")]
        mac: String,
        /// The algorithm (default: the key's own).
        #[arg(long)]
        algorithm: Option<String>,
        /// Read the message from FILE (default: stdin).
        #[arg(long = "in", value_name = "FILE")]
        input: Option<String>,
    },
}

fn write_file(path: &str, bytes: &[u8]) -> Result<(), Error> {
    io::write_private(path, bytes)
}

/// Runs a streaming encryption or decryption into `out`, with a progress bar
/// on a terminal when the input's `size` is known.
fn stream_any<T>(
    out: &mut Output,
    size: Option<u64>,
    run: impl FnOnce(&mut Output, &mut dyn FnMut(u64)) -> Result<T, Error>,
) -> Result<T, Error> {
    let bar = io::progress(size);
    let mut show = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let r = run(out, &mut show)?;
    out.close()
        .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(r)
}

pub(crate) fn encrypt(c: &Ctx, a: &EncryptArgs) -> Outcome {
    let output = a.out.for_result(c)?;
    let t = c.session(true)?;
    let key = key_ref(&a.key);
    let ctx = a.context.get();
    let Some(mut output) = output else {
        // --json without --out: one message, in the JSON document.
        let plaintext =
            zeroize::Zeroizing::new(io::read_all(a.input.as_deref(), MAX_ONE_SHOT_BYTES)?);
        let message = t.encrypt(&key, &plaintext, &ctx)?;
        let (id, version) = softkms::api::message_key_id(&message)?;
        let meta = serde_json::json!({"key_id": id.as_str(), "key_version": version});
        return emit(c, None, &message, meta, "ciphertext_blob");
    };
    let mut input = Input::new(a.input.as_deref());
    let size = input.size();
    let n = stream_any(&mut output, size, |o, p| {
        t.encrypt_stream(&key, &ctx, &mut input, o, p)
    })?;
    log::debug!("command line: encrypted {n} bytes");
    if let (true, Some(path)) = (c.json, a.out.out.as_deref().filter(|p| *p != "-")) {
        // The key and version the message names (the key may have rotated
        // since).
        let mut head = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, 64 << 10), &mut head)
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("{path}: {e}")))?;
        let (id, version) = softkms::api::message_key_id(&head)?;
        super::out(
            &serde_json::json!({
                "key_id": id.as_str(),
                "key_version": version,
                "plaintext_bytes": n,
                "out": path,
            })
            .to_string(),
        );
    }
    Ok(true)
}

/// Reads an envelope message (bytes or base64) whole.
fn read_message(path: Option<&str>) -> Result<Vec<u8>, Error> {
    let raw = io::read_all(path, MAX_ONE_SHOT_BYTES / 3 * 4 + 4096)?;
    Ok(decode_binary(raw, Some(ENVELOPE_MAGIC)))
}

pub(crate) fn decrypt(c: &Ctx, a: &DecryptArgs) -> Outcome {
    let output = a.out.for_result(c)?;
    let t = c.session(true)?;
    let ctx = a.context.get();
    let mut input = Input::new(a.input.as_deref());
    // A message streams; base64 text of one is decoded whole first.
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        let n = std::io::Read::read(&mut input, &mut head[got..])
            .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let first = head.get(..got).unwrap_or_default().to_vec();
    match output {
        Some(mut output) if first.as_slice() == ENVELOPE_MAGIC => {
            let size = input.size();
            let mut chained = std::io::Read::chain(std::io::Cursor::new(first), input);
            let key_id = stream_any(&mut output, size, |o, p| {
                t.decrypt_stream(&ctx, &mut chained, o, p)
            })?;
            if let (true, Some(path)) = (c.json, a.out.out.as_deref().filter(|p| *p != "-")) {
                super::out(
                    &serde_json::json!({"key_id": key_id.as_str(), "out": path}).to_string(),
                );
            }
            Ok(true)
        }
        other => decrypt_whole(c, &t, &ctx, first, input, other),
    }
}

/// Decrypts a message read whole (base64 text, or `--json`).
fn decrypt_whole(
    c: &Ctx,
    t: &Token,
    ctx: &EncryptionContext,
    first: Vec<u8>,
    input: Input,
    output: Option<Output>,
) -> Outcome {
    let mut rest = first;
    let limit = u64::try_from(MAX_ONE_SHOT_BYTES / 3 * 4 + 4096).unwrap_or(u64::MAX);
    std::io::Read::read_to_end(&mut std::io::Read::take(input, limit), &mut rest)
        .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    let message = decode_binary(rest, Some(ENVELOPE_MAGIC));
    let d = t.decrypt(&message, ctx)?;
    let meta = serde_json::json!({"key_id": d.key_id.as_str(), "key_version": d.key_version});
    emit(c, output, d.plaintext.as_bytes(), meta, "plaintext")
}

pub(crate) fn re_encrypt(c: &Ctx, a: &ReEncryptArgs) -> Outcome {
    let output = a.out.for_result(c)?;
    let message = read_message(a.input.as_deref())?;
    let t = c.session(true)?;
    let mut source = EncryptionContext::new();
    for (k, v) in &a.source_context {
        source.insert(k, v);
    }
    let r = t.re_encrypt_message(&message, &source, &key_ref(&a.key), &a.context.get())?;
    log::debug!(
        "softkms: re-encrypted from {} to {}",
        r.source_key_id,
        r.key_id
    );
    let meta = serde_json::json!({
        "key_id": r.key_id.as_str(),
        "source_key_id": r.source_key_id.as_str(),
    });
    emit(c, output, &r.ciphertext_blob, meta, "ciphertext_blob")
}

fn datakey_generate(
    c: &Ctx,
    t: &Token,
    key: &str,
    bytes: usize,
    ctx: &EncryptionContext,
    with_plaintext: bool,
    out: Option<&str>,
) -> Outcome {
    let key = key_ref(key);
    let (key_id, plaintext, blob) = if with_plaintext {
        let dk = t.generate_data_key(&key, bytes, ctx)?;
        (dk.key_id, Some(dk.plaintext), dk.ciphertext_blob)
    } else {
        let blob = t.generate_data_key_without_plaintext(&key, bytes, ctx)?;
        let (id, _) = softkms::api::message_key_id(&blob)?;
        (id, None, blob)
    };
    if let Some(p) = out {
        write_file(p, &blob)?;
    }
    let plain_b64 = plaintext
        .as_ref()
        .map(|p| zeroize::Zeroizing::new(b64(p.as_bytes())));
    let mut v = serde_json::json!({
        "key_id": key_id.as_str(),
        "ciphertext_blob": b64(&blob),
    });
    if let Some(p) = &plain_b64 {
        v["plaintext"] = serde_json::Value::String(p.to_string());
    }
    c.print(&v, || {
        let mut lines = Vec::new();
        if let Some(p) = &plaintext {
            lines.push(format!(
                "plaintext:       {}",
                zeroize::Zeroizing::new(io::hex(p.as_bytes())).as_str()
            ));
        }
        lines.push(format!("ciphertext blob: {}", b64(&blob)));
        lines
    });
    io::wipe_field(&mut v, "plaintext");
    Ok(true)
}

fn datakey_pair(
    c: &Ctx,
    t: &Token,
    key: &str,
    spec: &str,
    ctx: &EncryptionContext,
    with_plaintext: bool,
    out: Option<&str>,
) -> Outcome {
    let spec: KeySpec = spec.parse()?;
    let p = t.generate_data_key_pair(&key_ref(key), spec, ctx, with_plaintext)?;
    if let Some(path) = out {
        write_file(path, &p.private_key_ciphertext_blob)?;
    }
    let private = p
        .private_key_plaintext
        .as_ref()
        .map(|k| zeroize::Zeroizing::new(b64(k.as_bytes())));
    let mut v = serde_json::json!({
        "key_id": p.key_id.as_str(),
        "key_pair_spec": spec.name(),
        "public_key": b64(&p.public_key),
        "private_key_ciphertext_blob": b64(&p.private_key_ciphertext_blob),
    });
    if let Some(k) = &private {
        v["private_key_plaintext"] = serde_json::Value::String(k.to_string());
    }
    c.print(&v, || {
        let mut lines = vec![format!("public key:      {}", b64(&p.public_key))];
        if let Some(k) = &private {
            lines.push(format!("private key:     {}", k.as_str()));
        }
        lines.push(format!(
            "ciphertext blob: {}",
            b64(&p.private_key_ciphertext_blob)
        ));
        lines
    });
    io::wipe_field(&mut v, "private_key_plaintext");
    Ok(true)
}

/// `softkms datakey …`.
pub(crate) fn datakey(c: &Ctx, cmd: DatakeyCmd) -> Outcome {
    match cmd {
        DatakeyCmd::Generate {
            key,
            bytes,
            context,
            without_plaintext,
            out,
        } => {
            let t = c.session(true)?;
            datakey_generate(
                c,
                &t,
                &key,
                bytes,
                &context.get(),
                !without_plaintext,
                out.as_deref(),
            )
        }
        DatakeyCmd::GeneratePair {
            key,
            spec,
            context,
            without_plaintext,
            out,
        } => {
            let t = c.session(true)?;
            datakey_pair(
                c,
                &t,
                &key,
                &spec,
                &context.get(),
                !without_plaintext,
                out.as_deref(),
            )
        }
        DatakeyCmd::Decrypt { blob, context, out } => {
            let message = read_message(Some(&blob))?;
            let t = c.session(true)?;
            let d = t.decrypt(&message, &context.get())?;
            if let Some(p) = &out {
                write_file(p, d.plaintext.as_bytes())?;
            }
            let text = zeroize::Zeroizing::new(if c.json {
                b64(d.plaintext.as_bytes())
            } else {
                io::hex(d.plaintext.as_bytes())
            });
            let mut v = serde_json::json!({
                "key_id": d.key_id.as_str(),
                "key_version": d.key_version,
            });
            if out.is_none() {
                v["plaintext"] = serde_json::Value::String(text.to_string());
            }
            c.print(&v, || match &out {
                Some(p) => vec![format!("plaintext written to {p}")],
                None => vec![text.to_string()],
            });
            io::wipe_field(&mut v, "plaintext");
            Ok(true)
        }
        DatakeyCmd::ReEncrypt {
            blob,
            key,
            context,
            out,
        } => {
            let message = read_message(Some(&blob))?;
            let t = c.session(true)?;
            let ctx = context.get();
            // Unwrapped into a sensitive session key, wrapped under the new
            // key: the plaintext never leaves the module.
            let r = t.re_encrypt(&message, &ctx, &key_ref(&key), &ctx)?;
            if let Some(p) = &out {
                write_file(p, &r.ciphertext_blob)?;
            }
            let v = serde_json::json!({
                "key_id": r.key_id.as_str(),
                "source_key_id": r.source_key_id.as_str(),
                "ciphertext_blob": b64(&r.ciphertext_blob),
            });
            c.print(&v, || vec![b64(&r.ciphertext_blob)]);
            Ok(true)
        }
    }
}

fn message_type(k: Kind) -> MessageType {
    match k {
        Kind::Raw => MessageType::Raw,
        Kind::Digest => MessageType::Digest,
    }
}

/// The signing algorithm named, or the key's own.
fn signing_algorithm(t: &Token, key: &str, named: Option<&str>) -> Result<SigningAlgorithm, Error> {
    if let Some(a) = named {
        return a.parse();
    }
    let k = t.describe_key(&key_ref(key))?;
    k.spec
        .and_then(SigningAlgorithm::default_for)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidKeyUsage,
                format!(
                    "key {key:?} ({}) does not sign: signing needs an RSA, EC, Ed25519 or ML-DSA key",
                    k.spec_name
                ),
            )
        })
}

/// The MAC algorithm named, or the key's own.
fn mac_algorithm(t: &Token, key: &str, named: Option<&str>) -> Result<MacAlgorithm, Error> {
    if let Some(a) = named {
        return a.parse();
    }
    let k = t.describe_key(&key_ref(key))?;
    k.spec.and_then(MacAlgorithm::default_for).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "key {key:?} ({}) is not an HMAC key: MACs need an hmac224..hmac512 key",
                k.spec_name
            ),
        )
    })
}

pub(crate) fn sign(c: &Ctx, a: &SignArgs) -> Outcome {
    let output = a.out.for_result(c)?;
    let message = io::read_all(a.input.as_deref(), MAX_ONE_SHOT_BYTES)?;
    let t = c.session(true)?;
    let alg = signing_algorithm(&t, &a.key, a.algorithm.as_deref())?;
    let sig = t.sign_as(
        &key_ref(&a.key),
        &message,
        alg,
        message_type(a.message_type),
    )?;
    log::debug!("command line: signed with {alg}");
    let meta = serde_json::json!({"signing_algorithm": alg.aws_name()});
    emit(c, output, &sig, meta, "signature")
}

/// Prints the answer of a verification; a negative one is exit 1.
fn verdict(c: &Ctx, result: Result<(), Error>, v: serde_json::Value) -> Outcome {
    let valid = match result {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::InvalidSignature => false,
        Err(e) => return Err(e),
    };
    let mut v = v;
    v["valid"] = serde_json::Value::Bool(valid);
    c.print(&v, || {
        vec![if valid { "valid" } else { "NOT valid" }.to_string()]
    });
    Ok(valid)
}

pub(crate) fn verify(c: &Ctx, a: &VerifyArgs) -> Outcome {
    let signature = decode_binary(io::read_all(Some(&a.signature), 64 << 10)?, None);
    let message = io::read_all(a.input.as_deref(), MAX_ONE_SHOT_BYTES)?;
    let t = c.session(true)?;
    let alg = signing_algorithm(&t, &a.key, a.algorithm.as_deref())?;
    let r = t.verify_as(
        &key_ref(&a.key),
        &message,
        &signature,
        alg,
        message_type(a.message_type),
    );
    verdict(
        c,
        r,
        serde_json::json!({"signing_algorithm": alg.aws_name()}),
    )
}

pub(crate) fn get_public_key(c: &Ctx, a: &PublicKeyArgs) -> Outcome {
    let der_out = matches!(a.format, KeyFormat::Der);
    if !der_out && a.out.base64 {
        return Err(super::invalid(
            "--base64 is for --format der: PEM is text (base64) already",
        ));
    }
    let output = if der_out { a.out.for_result(c)? } else { None };
    let t = c.session(true)?;
    let der = t.get_public_key(&key_ref(&a.key))?;
    if der_out {
        return emit(
            c,
            output,
            &der,
            serde_json::json!({"format": "der"}),
            "public_key",
        );
    }
    let body = b64(&der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    match &a.out.out {
        Some(p) if p != "-" => write_file(p, pem.as_bytes())?,
        _ if c.json => super::out(&serde_json::json!({"public_key": body, "pem": pem}).to_string()),
        _ => print!("{pem}"),
    }
    Ok(true)
}

/// `softkms mac …`.
pub(crate) fn mac(c: &Ctx, cmd: MacCmd) -> Outcome {
    match cmd {
        MacCmd::Generate {
            key,
            algorithm,
            input,
            out,
        } => {
            let output = out.for_result(c)?;
            let message = io::read_all(input.as_deref(), MAX_ONE_SHOT_BYTES)?;
            let t = c.session(true)?;
            let alg = mac_algorithm(&t, &key, algorithm.as_deref())?;
            let tag = t.generate_mac(&key_ref(&key), &message, alg)?;
            let meta = serde_json::json!({"mac_algorithm": alg.aws_name()});
            emit(c, output, &tag, meta, "mac")
        }
        MacCmd::Verify {
            key,
            mac,
            algorithm,
            input,
        } => {
            let tag = decode_binary(io::read_all(Some(&mac), 4096)?, None);
            let message = io::read_all(input.as_deref(), MAX_ONE_SHOT_BYTES)?;
            let t = c.session(true)?;
            let alg = mac_algorithm(&t, &key, algorithm.as_deref())?;
            let r = t.verify_mac(&key_ref(&key), &message, &tag, alg);
            verdict(c, r, serde_json::json!({"mac_algorithm": alg.aws_name()}))
        }
    }
}
