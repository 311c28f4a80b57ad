//! `softkms`: the administration command line of SoftKMS.
//!
//! It is built on the SoftKMS Rust API (`softkms::api`), which drives the same
//! safe module surface that the PKCS#11 entry points call, so whatever it does
//! a PKCS#11 client can do too. PINs come from the environment
//! (`SOFTKMS_SO_PIN`, `SOFTKMS_PIN`, `SOFTKMS_NEW_PIN`) or a prompt on the
//! terminal, never from the command line. See `docs/cli.md`.
//!
//! Exit status: 0 done, 1 refused or failed (and `verify` of a signature that
//! does not verify), 2 usage.

use clap::{Args, CommandFactory, Parser, Subcommand};
use softkms::api::{Error, ErrorKind, Pin, Principal, Softkms, Token};
use std::process::ExitCode;

#[path = "softkms/audit.rs"]
mod audit;
#[path = "softkms/data.rs"]
mod data;
#[path = "softkms/io.rs"]
mod io;
#[path = "softkms/keys.rs"]
mod keys;
#[cfg(feature = "serve")]
#[path = "softkms/serve.rs"]
mod serve;
#[path = "softkms/users.rs"]
mod users;

/// The key management of a cloud KMS on the tokens of this machine.
#[derive(Parser)]
#[command(
    name = "softkms",
    version,
    propagate_version = true,
    after_help = "KEY is a key's label, its id, or alias/NAME.\n\
PINs come from SOFTKMS_PIN (the user, or the --user principal), SOFTKMS_SO_PIN (the SO) \
and SOFTKMS_NEW_PIN, or are asked for on a terminal; never from the command line.\n\
Exit status: 0 done, 1 refused or failed, 2 usage. See docs/cli.md."
)]
struct Cli {
    /// The slot of the token (see `softkms token info`).
    #[arg(long, global = true, value_name = "N", default_value_t = 0)]
    slot: u64,
    /// Print JSON (one document per command; errors as JSON on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// Log in as this named principal (its PIN in SOFTKMS_PIN) instead of the
    /// token owner.
    #[arg(long, global = true, value_name = "NAME")]
    user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Initialize a token, show it.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The objects on the token.
    #[command(subcommand)]
    Object(ObjectCmd),
    /// Create, inspect, rotate, enable, disable and delete keys.
    #[command(subcommand)]
    Key(keys::KeyCmd),
    /// Aliases: other names of keys (alias/NAME), re-pointable.
    #[command(subcommand)]
    Alias(keys::AliasCmd),
    /// Envelope-encrypt data under a symmetric key.
    Encrypt(data::EncryptArgs),
    /// Decrypt an envelope message (it names its key).
    Decrypt(data::DecryptArgs),
    /// Decrypt a message and encrypt it under another key, in one step.
    ReEncrypt(data::ReEncryptArgs),
    /// Data keys and data key pairs.
    #[command(subcommand)]
    Datakey(data::DatakeyCmd),
    /// Sign a message or a digest with an asymmetric key.
    Sign(data::SignArgs),
    /// Verify a signature (exit 0 valid, 1 not valid).
    Verify(data::VerifyArgs),
    /// The public key of an asymmetric key, PEM or DER.
    GetPublicKey(data::PublicKeyArgs),
    /// HMACs with HMAC keys.
    #[command(subcommand)]
    Mac(data::MacCmd),
    /// Change your own PIN.
    #[command(subcommand)]
    Pin(users::PinCmd),
    /// Named principals (the SO manages them).
    #[command(subcommand)]
    User(users::UserCmd),
    /// Read, export and verify the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Random bytes from the token.
    Random(RandomArgs),
    /// Serve the token's keys over the AWS KMS API (docs/serve.md), as the
    /// token owner (SOFTKMS_PIN), until SIGTERM.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// Access keys: the credentials of the AWS API, one principal each.
    #[command(subcommand)]
    #[cfg(feature = "serve")]
    AccessKey(serve::AccessKeyCmd),
    /// The mechanisms the module offers.
    Mechanisms(MechanismsArgs),
    /// A completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Initialize the token (SOFTKMS_SO_PIN; SOFTKMS_PIN, or the PIN asked
    /// for on a terminal, becomes the user PIN). An initialized token is
    /// refused without --force.
    Init {
        /// The token's label.
        #[arg(long)]
        label: String,
        /// Initialize it again, destroying every key, alias, principal and
        /// object on it.
        #[arg(long)]
        force: bool,
    },
    /// The token: label, serial, file, whether the PINs are set.
    Info,
}

#[derive(Subcommand)]
enum ObjectCmd {
    /// Every object this session sees (private ones when SOFTKMS_PIN is set).
    List,
}

#[derive(Args)]
struct RandomArgs {
    /// How many bytes (1 to 65536).
    #[arg(long, default_value_t = 32)]
    bytes: usize,
    /// Print base64 instead of hex.
    #[arg(long)]
    base64: bool,
}

#[derive(Args)]
struct MechanismsArgs {
    /// A Markdown table.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
}

/// What one run of the command needs: SoftKMS, the slot, the output form.
pub(crate) struct Ctx {
    kms: Softkms,
    slot: u64,
    json: bool,
    user: Option<String>,
}

/// A command's outcome: `Ok(true)` done, `Ok(false)` a negative answer that is
/// not an error (a signature that does not verify: exit 1).
pub(crate) type Outcome = Result<bool, Error>;

/// An error of the command line itself (not of the module).
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

impl Ctx {
    /// A session on the slot, logged in as the user (or the `--user`
    /// principal) with `SOFTKMS_PIN` when `login`.
    pub(crate) fn session(&self, login: bool) -> Result<Token, Error> {
        let t = self.kms.token(self.slot)?;
        if login {
            let pin = env_pin("SOFTKMS_PIN", false)?;
            let who = match &self.user {
                Some(name) => Principal::Named(name.clone()),
                None => Principal::User,
            };
            log::debug!("command line: logging in as {}", who.name());
            t.login(&who, &pin)?;
        }
        Ok(t)
    }

    /// A session with the SO logged in (`SOFTKMS_SO_PIN`).
    pub(crate) fn so_session(&self) -> Result<Token, Error> {
        let t = self.session(false)?;
        let pin = env_pin("SOFTKMS_SO_PIN", false)?;
        log::debug!("command line: logging in as the SO");
        t.login(&Principal::SecurityOfficer, &pin)?;
        Ok(t)
    }

    /// Prints `value` as JSON with `--json`, else the lines `text` makes.
    /// The printed text is wiped afterwards: it may hold a secret (a data
    /// key, a plaintext).
    pub(crate) fn print(&self, value: &serde_json::Value, text: impl FnOnce() -> Vec<String>) {
        if self.json {
            out(&zeroize::Zeroizing::new(value.to_string()));
        } else {
            for line in text() {
                out(&zeroize::Zeroizing::new(line));
            }
        }
    }
}

/// Prints a line; a closed pipe (`softkms … | head`) ends the program quietly.
pub(crate) fn out(line: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if writeln!(o, "{line}").is_err() {
        std::process::exit(0);
    }
}

/// A PIN from the environment variable `var`, or else a prompt on the terminal
/// (without echo; a new PIN is asked twice when `confirm`). Never from the
/// command line.
pub(crate) fn env_pin(var: &str, confirm: bool) -> Result<Pin, Error> {
    if let Ok(p) = std::env::var(var) {
        return Ok(Pin::from(p));
    }
    use std::io::IsTerminal;
    let who = match var {
        "SOFTKMS_SO_PIN" => "SO PIN",
        "SOFTKMS_NEW_PIN" => "new PIN",
        _ if confirm => "user PIN",
        _ => "PIN",
    };
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            ErrorKind::NotLoggedIn,
            format!(
                "set {var} to the {who}, or run on a terminal to be asked (PINs are never taken from the command line)"
            ),
        ));
    }
    let ask = |prompt: String| {
        rpassword::prompt_password(prompt)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the {who}: {e}")))
    };
    let pin = ask(format!("{who}: "))?;
    if confirm && *ask(format!("{who} again: "))? != *pin {
        return Err(invalid(format!(
            "the two {who}s differ: nothing was changed"
        )));
    }
    Ok(Pin::from(pin.as_str()))
}

fn token_init(c: &Ctx, label: &str, force: bool) -> Outcome {
    let status = c.kms.token_status(c.slot)?;
    if status.initialized && !force {
        return Err(Error::new(
            ErrorKind::InvalidState,
            format!(
                "the token in slot {} ({:?}) is initialized: initializing it again destroys every \
                 key, alias, principal and object on it; add --force to do that",
                c.slot, status.label
            ),
        ));
    }
    if status.initialized {
        eprintln!(
            "softkms: re-initializing the token in slot {} ({:?}): every key, alias, principal and object on it is destroyed",
            c.slot, status.label
        );
    }
    let so = env_pin("SOFTKMS_SO_PIN", !status.initialized)?;
    // The user PIN from SOFTKMS_PIN, or asked for on a terminal; a script
    // without SOFTKMS_PIN sets only the SO PIN.
    use std::io::IsTerminal;
    let user = if std::env::var_os("SOFTKMS_PIN").is_some() || std::io::stdin().is_terminal() {
        Some(env_pin("SOFTKMS_PIN", true)?)
    } else {
        None
    };
    c.kms.init_token(c.slot, label, &so)?;
    if let Some(user) = user {
        let t = c.kms.token(c.slot)?;
        t.login(&Principal::SecurityOfficer, &so)?;
        t.init_user_pin(&user)?;
    }
    token_info(c, Some("initialized"))
}

fn token_info(c: &Ctx, done: Option<&str>) -> Outcome {
    let t = c.kms.token_status(c.slot)?;
    let path = t.path.map(|p| p.display().to_string()).unwrap_or_default();
    let v = serde_json::json!({
        "slot": c.slot,
        "label": t.label,
        "serial": t.serial,
        "initialized": t.initialized,
        "user_pin_initialized": t.user_pin_initialized,
        "path": path,
    });
    c.print(&v, || match done {
        Some(what) => vec![format!("token in slot {} {what} as {:?}", c.slot, t.label)],
        None => vec![
            format!("slot:        {}", c.slot),
            format!("file:        {path}"),
            format!("initialized: {}", t.initialized),
            format!("label:       {}", t.label),
            format!("serial:      {}", t.serial),
            format!(
                "user PIN:    {}",
                if t.user_pin_initialized {
                    "set"
                } else {
                    "not set"
                }
            ),
        ],
    });
    Ok(true)
}

fn object_list(c: &Ctx) -> Outcome {
    let t = c.session(std::env::var_os("SOFTKMS_PIN").is_some())?;
    let rows = t.list_objects()?;
    let v: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "label": r.label.as_deref().unwrap_or_default(),
                "class": r.class.name(),
                "id": r.id,
            })
        })
        .collect();
    c.print(&serde_json::Value::Array(v), || {
        rows.iter()
            .map(|r| {
                format!(
                    "{:<12} {}  {}",
                    r.class.name(),
                    r.id,
                    r.label.as_deref().unwrap_or_default()
                )
            })
            .collect()
    });
    Ok(true)
}

fn random(c: &Ctx, a: &RandomArgs) -> Outcome {
    let t = c.session(false)?;
    let buf = t.generate_random(a.bytes)?;
    let text = if a.base64 || c.json {
        io::b64(&buf)
    } else {
        io::hex(&buf)
    };
    c.print(
        &serde_json::json!({ "random": text }),
        || vec![text.clone()],
    );
    Ok(true)
}

fn mechanisms(c: &Ctx, a: &MechanismsArgs) -> Outcome {
    let all = c.kms.mechanisms();
    let size = |min: u64, max: u64| {
        if max == 0 {
            "–".to_string()
        } else {
            format!("{min}–{max}")
        }
    };
    if a.markdown {
        out("| mechanism | key size (min–max) | functions |");
        out("| --- | --- | --- |");
        for d in &all {
            out(&format!(
                "| `{}` | {} | {} |",
                d.name,
                size(d.min_key_size, d.max_key_size),
                d.functions.join(", ")
            ));
        }
        return Ok(true);
    }
    let v: Vec<serde_json::Value> = all
        .iter()
        .map(|d| {
            serde_json::json!({
                "mechanism": d.name,
                "min_key": d.min_key_size,
                "max_key": d.max_key_size,
                "functions": d.functions,
                "flags": d.pkcs11_flags,
            })
        })
        .collect();
    c.print(&serde_json::Value::Array(v), || {
        all.iter()
            .map(|d| {
                format!(
                    "{:<28} {:<12} {}",
                    d.name,
                    size(d.min_key_size, d.max_key_size),
                    d.functions.join(",")
                )
            })
            .collect()
    });
    Ok(true)
}

/// The commands that never log in as a named principal, and who they run
/// as: `--user` there would be ignored, so it is refused.
fn runs_without_principal(command: &Command) -> Option<&'static str> {
    match command {
        Command::Token(_) => Some("the SO or no one"),
        Command::User(users::UserCmd::List) | Command::Random(_) | Command::Mechanisms(_) => {
            Some("no one (no login)")
        }
        Command::User(_) => Some("the SO"),
        #[cfg(feature = "serve")]
        Command::Serve(_) | Command::AccessKey(_) => Some("the token owner"),
        _ => None,
    }
}

fn run(c: &Ctx, command: Command) -> Outcome {
    if let (Some(user), Some(who)) = (&c.user, runs_without_principal(&command)) {
        return Err(invalid(format!(
            "--user {user:?} has no effect here: this command runs as {who}"
        )));
    }
    match command {
        Command::Token(TokenCmd::Init { label, force }) => token_init(c, &label, force),
        Command::Token(TokenCmd::Info) => token_info(c, None),
        Command::Object(ObjectCmd::List) => object_list(c),
        Command::Key(cmd) => keys::key(c, cmd),
        Command::Alias(cmd) => keys::alias(c, cmd),
        Command::Encrypt(a) => data::encrypt(c, &a),
        Command::Decrypt(a) => data::decrypt(c, &a),
        Command::ReEncrypt(a) => data::re_encrypt(c, &a),
        Command::Datakey(cmd) => data::datakey(c, cmd),
        Command::Sign(a) => data::sign(c, &a),
        Command::Verify(a) => data::verify(c, &a),
        Command::GetPublicKey(a) => data::get_public_key(c, &a),
        Command::Mac(cmd) => data::mac(c, cmd),
        Command::Pin(cmd) => users::pin(c, cmd),
        Command::User(cmd) => users::user(c, cmd),
        Command::Audit(cmd) => audit::run(c, cmd),
        Command::Random(a) => random(c, &a),
        Command::Mechanisms(a) => mechanisms(c, &a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::serve(c, a),
        #[cfg(feature = "serve")]
        Command::AccessKey(cmd) => serve::access_key(c, cmd),
        Command::Completions { .. } => Ok(true),
    }
}

/// Prints an error: words on stderr, or `{"error": {"code", "message"}}` with
/// `--json`.
fn report(json: bool, code: &str, message: &str) {
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"error": {"code": code, "message": message}})
        );
    } else {
        eprintln!("softkms: {message}");
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let usage = !matches!(e.kind(), K::DisplayHelp | K::DisplayVersion);
            if usage && std::env::args().any(|a| a == "--json") {
                let text = e.render().to_string();
                report(true, "CKR_ARGUMENTS_BAD", text.trim());
                return ExitCode::from(2);
            }
            // Help and version on stdout with 0, usage errors on stderr with 2.
            let _ = e.print();
            return ExitCode::from(if usage { 2 } else { 0 });
        }
    };
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "softkms",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let json = cli.json;
    // Dropping the handle at the end of the run closes SoftKMS (`C_Finalize`).
    let result = Softkms::open().and_then(|kms| {
        log::debug!(
            "command line: slot {}, configuration {}",
            cli.slot,
            Softkms::config_file().map_or_else(|| "(defaults)".into(), |p| p.display().to_string())
        );
        let c = Ctx {
            kms,
            slot: cli.slot,
            json,
            user: cli.user,
        };
        run(&c, cli.command)
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            log::debug!("command line: failed: {:?} {}", e.kind(), e.message());
            report(json, e.code_name(), e.message());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
