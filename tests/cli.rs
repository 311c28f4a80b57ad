//! The `softkms` command line, as a script would drive it: every verb, the
//! documented errors, the `--json` shapes (parsed), usage errors, names and
//! aliases, and the demo script on a throw-away token.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
    conf: PathBuf,
    so_pin: &'static str,
    user_pin: &'static str,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            "[[slot]]\npath = \"{}\"\nkdf = \"fast\"\n",
            dir.path().join("t.db").display()
        );
        std::fs::write(dir.path().join("softkms.toml"), conf).unwrap();
        let conf = dir.path().join("softkms.toml");
        Cli {
            dir,
            conf,
            so_pin: "cli-so-pin",
            user_pin: "cli-user-pin",
        }
    }
    /// A token initialized with a user PIN.
    fn ready() -> Cli {
        let c = Cli::new();
        c.ok(&["token", "init", "--label", "cli"]);
        c
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_softkms"));
        cmd.args(args)
            .env("SOFTKMS_CONF", &self.conf)
            .env("SOFTKMS_SO_PIN", self.so_pin)
            .env("SOFTKMS_PIN", self.user_pin)
            .env_remove("SOFTKMS_NEW_PIN")
            .env_remove("SOFTKMS_LOG");
        cmd
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    /// Runs with more environment variables (`env`).
    fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.cmd(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
    /// [`Cli::run_with`] of a command that must succeed.
    fn ok_with(&self, env: &[(&str, &str)], args: &[&str]) {
        let o = self.run_with(env, args);
        assert!(
            o.status.success(),
            "softkms {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "softkms {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("softkms {args:?}: {e}: {out}"))
    }
    /// Runs a command that must fail with exit status `code`; its stderr.
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "softkms {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }
    /// A refused command's JSON error (`--json`): its code and message.
    fn json_error(&self, args: &[&str]) -> (String, String) {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let err = self.fails(1, &a);
        let v: serde_json::Value = serde_json::from_str(err.trim())
            .unwrap_or_else(|e| panic!("softkms {args:?}: {e}: {err}"));
        (
            v["error"]["code"].as_str().unwrap().to_string(),
            v["error"]["message"].as_str().unwrap().to_string(),
        )
    }
}

#[test]
fn the_kms_commands_work_end_to_end() {
    let c = Cli::new();
    c.ok(&["token", "init", "--label", "cli"]);
    assert_eq!(c.json(&["token", "info"])["initialized"], true);
    c.ok(&["key", "create", "--label", "k1", "--rotation-days", "90"]);
    let k = c.json(&["key", "show", "k1"]);
    for field in [
        "label",
        "id",
        "spec",
        "state",
        "current_version",
        "versions",
        "rotation_period_days",
        "next_rotation",
        "deletion_time",
    ] {
        assert!(k.get(field).is_some(), "missing {field}: {k}");
    }
    assert_eq!(k["spec"], "aes256");
    assert_eq!(k["state"], "Enabled");
    assert_eq!(k["rotation_period_days"], 90);

    std::fs::write(c.path("plain"), b"hello, envelope").unwrap();
    c.ok(&[
        "encrypt",
        "--key",
        "k1",
        "--context",
        "app=x",
        "--in",
        &c.path("plain"),
        "--out",
        &c.path("v1"),
    ]);
    c.ok(&["key", "rotate", "k1"]);
    assert_eq!(c.json(&["key", "show", "k1"])["current_version"], 2);
    assert_eq!(
        c.json(&["key", "show", "k1"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    c.ok(&[
        "decrypt",
        "--context",
        "app=x",
        "--in",
        &c.path("v1"),
        "--out",
        &c.path("back"),
    ]);
    assert_eq!(std::fs::read(c.path("back")).unwrap(), b"hello, envelope");
    assert!(!c
        .run(&["decrypt", "--context", "app=y", "--in", &c.path("v1")])
        .status
        .success());

    // Data keys: generate, decrypt, re-encrypt under another key.
    let dk = c.json(&[
        "datakey",
        "generate",
        "--key",
        "k1",
        "--bytes",
        "16",
        "--out",
        &c.path("blob"),
    ]);
    let plain = dk["plaintext"].as_str().unwrap().to_string();
    assert_eq!(
        c.json(&["datakey", "decrypt", "--blob", &c.path("blob")])["plaintext"],
        plain.as_str()
    );
    c.ok(&["key", "create", "--label", "k2"]);
    c.ok(&[
        "datakey",
        "re-encrypt",
        "--blob",
        &c.path("blob"),
        "--key",
        "k2",
        "--out",
        &c.path("blob2"),
    ]);
    let again = c.json(&["datakey", "decrypt", "--blob", &c.path("blob2")]);
    assert_eq!(again["plaintext"], plain.as_str());
    assert_eq!(again["key_id"], c.json(&["key", "show", "k2"])["id"]);

    // Lifecycle.
    assert_eq!(c.json(&["key", "disable", "k2"])["state"], "Disabled");
    assert!(!c
        .run(&["encrypt", "--key", "k2", "--in", &c.path("plain")])
        .status
        .success());
    assert_eq!(c.json(&["key", "enable", "k2"])["state"], "Enabled");
    let pd = c.json(&["key", "schedule-deletion", "k2", "--days", "7"]);
    assert_eq!(pd["state"], "PendingDeletion");
    assert!(pd["deletion_time"].is_string());
    assert!(!c
        .run(&["key", "schedule-deletion", "k1", "--days", "3"])
        .status
        .success());
    assert_eq!(
        c.json(&["key", "cancel-deletion", "k2"])["state"],
        "Disabled"
    );

    // Imported material with an expiry.
    std::fs::write(c.path("mat"), [7u8; 32]).unwrap();
    let imp = c.json(&[
        "key",
        "import",
        "byok",
        "--material",
        &c.path("mat"),
        "--valid-to",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(imp["origin"], "external");
    assert_eq!(imp["valid_to"], "2099-01-01T00:00:00Z");
    let list = c.json(&["key", "list"]);
    let labels: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["label"].as_str())
        .collect();
    for l in ["k1", "k2", "byok"] {
        assert!(labels.contains(&l), "{l} not in {labels:?}");
    }
}

#[test]
fn errors_are_clear_and_pins_never_come_from_argv() {
    let c = Cli::new();
    let o = c
        .cmd(&["token", "init", "--label", "x"])
        .env_remove("SOFTKMS_SO_PIN")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("SOFTKMS_SO_PIN"));
    c.ok(&["token", "init", "--label", "cli"]);
    let o = c.run(&["key", "show", "nope"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"nope\""));
    assert!(Path::new(&c.path("t.db")).exists());
}

#[test]
fn key_specs_beyond_aes_and_no_rotation_for_them() {
    let c = Cli::new();
    c.ok(&["token", "init", "--label", "cli"]);
    for (spec, label) in [
        ("hmac224", "h224"),
        ("hmac384", "h384"),
        ("HMAC_512", "h512"),
        ("p256", "ec"),
        ("rsa2048", "rsa"),
    ] {
        c.ok(&["key", "create", "--label", label, "--spec", spec]);
    }
    assert_eq!(c.json(&["key", "show", "h224"])["spec"], "hmac224");
    assert_eq!(c.json(&["key", "show", "h384"])["spec"], "hmac384");
    assert_eq!(c.json(&["key", "show", "h512"])["spec"], "hmac512");
    assert_eq!(c.json(&["key", "show", "ec"])["spec"], "p256");
    // No rotation for asymmetric and HMAC keys, as in AWS KMS.
    for label in ["h384", "ec", "rsa"] {
        let o = c.run(&["key", "rotate", label]);
        assert!(!o.status.success(), "rotated {label}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("does not rotate"), "{err}");
    }
    let o = c.run(&[
        "key",
        "create",
        "--label",
        "x",
        "--spec",
        "hmac256",
        "--rotation-days",
        "90",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not rotate"));
    // The same lifecycle as managed keys.
    c.ok(&["key", "disable", "h384"]);
    assert_eq!(c.json(&["key", "show", "h384"])["state"], "Disabled");
    c.ok(&["key", "enable", "h384"]);
    assert_eq!(c.json(&["key", "show", "h384"])["state"], "Enabled");
    let o = c.run(&["key", "create", "--label", "y", "--spec", "p255"]);
    assert!(!o.status.success());
}

/// The fields of the one JSON shape of a key (docs/cli.md).
const KEY_FIELDS: [&str; 21] = [
    "id",
    "label",
    "aliases",
    "spec",
    "aws_key_spec",
    "usages",
    "managed",
    "state",
    "origin",
    "description",
    "tags",
    "creation_date",
    "current_version",
    "min_decrypt_version",
    "versions",
    "rotation_period_days",
    "next_rotation",
    "deletion_time",
    "valid_to",
    "policy",
    "label",
];

fn assert_key_shape(v: &serde_json::Value) {
    let obj = v.as_object().unwrap_or_else(|| panic!("not a key: {v}"));
    for f in KEY_FIELDS {
        assert!(obj.contains_key(f), "missing {f}: {v}");
    }
    assert_eq!(obj.len(), KEY_FIELDS.len() - 1, "fields of {v}");
}

#[test]
fn usage_help_version_and_unknown_input() {
    let c = Cli::new();
    let v = c.ok(&["--version"]);
    assert!(v.starts_with("softkms "), "{v}");
    for args in [
        &["--help"][..],
        &["key", "--help"],
        &["key", "create", "--help"],
        &["help", "datakey", "generate"],
    ] {
        let o = c.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    // Unknown flags, commands and extra arguments are usage errors (2), and
    // nothing runs: no token file appears.
    let e = c.fails(2, &["encrypt", "--key", "K", "--contxt", "a=b"]);
    assert!(e.contains("--contxt"), "{e}");
    let e = c.fails(2, &["frobnicate"]);
    assert!(e.contains("unrecognized subcommand"), "{e}");
    c.fails(2, &["key", "show", "a", "b"]);
    c.fails(2, &["datakey", "decrypt", "--blob", "x", "--outt", "y"]);
    c.fails(2, &["encrypt", "--key", "k", "--context", "no-equals-sign"]);
    c.fails(2, &["key", "schedule-deletion", "k", "--days", "soon"]);
    assert!(!Path::new(&c.path("t.db")).exists());
    // With --json a usage error is JSON too.
    let e = c.fails(2, &["--json", "key", "lisst"]);
    let v: serde_json::Value = serde_json::from_str(e.trim()).unwrap();
    assert_eq!(v["error"]["code"], "CKR_ARGUMENTS_BAD");
    // A --user that a command would ignore is refused.
    let e = c.fails(1, &["--user", "alice", "token", "info"]);
    assert!(e.contains("no effect"), "{e}");
    let bash = c.ok(&["completions", "bash"]);
    assert!(bash.contains("softkms"), "{bash}");
    c.fails(2, &["completions", "tcsh"]);
}

#[test]
fn token_init_refuses_an_initialized_token_without_force() {
    let c = Cli::ready();
    c.ok(&["key", "create", "keep"]);
    let e = c.fails(1, &["token", "init", "--label", "again"]);
    assert!(e.contains("--force") && e.contains("destroys"), "{e}");
    assert_eq!(c.json(&["key", "list"]).as_array().unwrap().len(), 1);
    let o = c.run(&["token", "init", "--label", "again", "--force"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("destroyed"));
    let info = c.json(&["token", "info"]);
    assert_eq!(info["label"], "again");
    assert_eq!(c.json(&["key", "list"]), serde_json::json!([]));
}

#[test]
fn names_ids_duplicates_and_aliases() {
    let c = Cli::ready();
    let k1 = c.json(&["key", "create", "payments"]);
    assert_key_shape(&k1);
    let id1 = k1["id"].as_str().unwrap().to_string();
    let e = c.fails(1, &["key", "create", "payments"]);
    assert!(e.contains("already exists") && e.contains(&id1), "{e}");
    // By id as well as by label.
    assert_eq!(c.json(&["key", "show", &id1])["label"], "payments");
    assert_eq!(c.json(&["key", "describe", "payments"])["id"], id1.as_str());

    // Aliases: created, shown, re-pointed, unique, deleted.
    let k2 = c.json(&["key", "create", "payroll"]);
    let id2 = k2["id"].as_str().unwrap().to_string();
    let a = c.json(&["alias", "create", "alias/pay", "payments"]);
    assert_eq!(a, serde_json::json!({"alias": "alias/pay", "key_id": id1}));
    assert_eq!(c.json(&["key", "show", "alias/pay"])["id"], id1.as_str());
    assert_eq!(
        c.json(&["key", "show", "payments"])["aliases"],
        serde_json::json!(["alias/pay"])
    );
    let listed = c.json(&["key", "list"]);
    let with_alias: Vec<&serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["aliases"] == serde_json::json!(["alias/pay"]))
        .collect();
    assert_eq!(with_alias.len(), 1);
    assert_eq!(with_alias[0]["id"], id1.as_str());
    let e = c.fails(1, &["alias", "create", "pay", "payroll"]);
    assert!(e.contains("already exists"), "{e}");
    c.ok(&["alias", "update", "alias/pay", &id2]);
    assert_eq!(c.json(&["key", "show", "alias/pay"])["id"], id2.as_str());
    let all = c.json(&["alias", "list"]);
    assert_eq!(
        all,
        serde_json::json!([{"alias": "alias/pay", "key_id": id2}])
    );
    assert_eq!(
        c.json(&["alias", "list", "--key", "payments"]),
        serde_json::json!([])
    );
    // Encrypt through the alias; decrypt names the key itself.
    std::fs::write(c.path("p"), b"by alias").unwrap();
    c.ok(&[
        "encrypt",
        "--key",
        "alias/pay",
        "--in",
        &c.path("p"),
        "--out",
        &c.path("m"),
    ]);
    let d = c.json(&["decrypt", "--in", &c.path("m")]);
    assert_eq!(d["key_id"], id2.as_str());
    let e = c.fails(1, &["alias", "create", "alias/aws/x", "payroll"]);
    assert!(e.contains("alias/aws/"), "{e}");
    let e = c.fails(1, &["alias", "create", "alias/sp ace", "payroll"]);
    assert!(e.contains("letters"), "{e}");
    c.ok(&["alias", "delete", "pay"]);
    let (code, msg) = c.json_error(&["key", "show", "alias/pay"]);
    assert!(code.starts_with("CKR_"), "{code}");
    assert!(msg.contains("alias/pay"), "{msg}");

    // A duplicate label made by a PKCS#11 client: the CLI asks for the id.
    let ctx = common::Ctx::new(1);
    let conf = ctx.dir.path().join("softkms.toml");
    let slot = ctx.init_token(0);
    let s = ctx.user_session(0);
    for _ in 0..2 {
        use cryptoki::mechanism::Mechanism;
        use cryptoki::object::Attribute;
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(b"twin".to_vec()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    }
    let _ = slot;
    let o = Command::new(env!("CARGO_BIN_EXE_softkms"))
        .args(["key", "show", "twin"])
        .env("SOFTKMS_CONF", &conf)
        .env("SOFTKMS_PIN", common::USER_PIN)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("more than one") && e.contains("id"), "{e}");
}

#[test]
fn errors_say_the_rule_in_words() {
    let c = Cli::ready();
    c.ok(&["key", "create", "k"]);
    c.ok(&["key", "create", "ec", "--spec", "p256"]);
    std::fs::write(c.path("p"), b"x").unwrap();
    let (p, o) = (c.path("p"), c.path("o"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["key", "create", "r", "--rotation-days", "30"],
            "90 to 2560",
        ),
        (
            vec!["key", "rotation", "enable", "k", "--days", "5000"],
            "90 to 2560",
        ),
        (
            vec!["key", "schedule-deletion", "k", "--days", "3"],
            "7 to 30",
        ),
        (vec!["key", "rotate", "ec"], "does not rotate"),
        (
            vec!["datakey", "generate", "--key", "k", "--bytes", "0"],
            "1 to 1024",
        ),
        (
            vec!["encrypt", "--key", "ec", "--in", &p, "--out", &o],
            "symmetric",
        ),
        (vec!["key", "min-decrypt-version", "k", "5"], "version"),
        (vec!["key", "show", "nope"], "nope"),
        (
            vec!["mac", "generate", "--key", "k", "--in", &p, "--out", &o],
            "HMAC",
        ),
    ];
    for (args, words) in &cases {
        let e = c.fails(1, args);
        assert!(e.contains(words), "{args:?}: {e}");
        assert!(
            !e.contains("0xd34b") && !e.contains("CKR 0x"),
            "{args:?}: {e}"
        );
        let (code, msg) = c.json_error(args);
        assert!(code.starts_with("CKR_"), "{args:?}: {code}");
        assert!(msg.contains(words), "{args:?}: {msg}");
    }
    // A key pending deletion is enabled only after the deletion is cancelled.
    c.ok(&["key", "schedule-deletion", "ec", "--days", "7"]);
    let e = c.fails(1, &["key", "enable", "ec"]);
    assert!(e.contains("cancel"), "{e}");
    // A PIN that is too short.
    let e = c.run_with(&[("SOFTKMS_NEW_PIN", "abc")], &["user", "add", "bob"]);
    assert_eq!(e.status.code(), Some(1));
    let e = String::from_utf8_lossy(&e.stderr);
    assert!(e.contains("PIN") && e.contains("characters"), "{e}");
    // SOFTKMS_LOG=debug says something on the CLI path.
    let o = c.run_with(&[("SOFTKMS_LOG", "debug")], &["key", "show", "nope"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.lines().count() >= 3 && e.contains("DEBUG softkms: command line: failed"),
        "{e}"
    );
}

#[test]
fn key_metadata_rotation_and_versions() {
    let c = Cli::ready();
    let k = c.json(&[
        "key",
        "create",
        "meta",
        "--description",
        "billing records",
        "--tag",
        "team=pay",
        "--tag",
        "env=prod",
    ]);
    assert_key_shape(&k);
    assert_eq!(k["description"], "billing records");
    assert_eq!(k["tags"], serde_json::json!({"env": "prod", "team": "pay"}));
    assert_eq!(k["usages"], serde_json::json!(["ENCRYPT_DECRYPT"]));
    assert_eq!(k["aws_key_spec"], "SYMMETRIC_DEFAULT");
    let k = c.json(&["key", "update-description", "meta", "new words"]);
    assert_eq!(k["description"], "new words");
    let k = c.json(&["key", "tag", "meta", "owner=ops", "env=dev"]);
    assert_eq!(
        k["tags"],
        serde_json::json!({"env": "dev", "owner": "ops", "team": "pay"})
    );
    let k = c.json(&["key", "untag", "meta", "team", "absent"]);
    assert_eq!(k["tags"], serde_json::json!({"env": "dev", "owner": "ops"}));
    let e = c.fails(1, &["key", "tag", "meta", "aws:x=y"]);
    assert!(e.contains("aws:"), "{e}");

    // Rotation on and off, versions, the minimum decryption version.
    let k = c.json(&["key", "rotation", "enable", "meta", "--days", "180"]);
    assert_eq!(k["rotation_period_days"], 180);
    assert!(k["next_rotation"].is_string());
    let k = c.json(&["key", "rotation", "disable", "meta"]);
    assert_eq!(k["rotation_period_days"], 0);
    std::fs::write(c.path("p"), b"version one").unwrap();
    c.ok(&[
        "encrypt",
        "--key",
        "meta",
        "--in",
        &c.path("p"),
        "--out",
        &c.path("v1"),
    ]);
    assert_key_shape(&c.json(&["key", "rotate", "meta"]));
    c.ok(&["key", "rotate", "meta"]);
    let r = c.json(&["key", "rotations", "meta"]);
    let r = r.as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[2]["current"], true);
    assert!(r[0]["created"].is_string());
    let k = c.json(&["key", "min-decrypt-version", "meta", "2"]);
    assert_eq!(k["min_decrypt_version"], 2);
    assert_eq!(c.json(&["key", "rotations", "meta"])[0]["decrypts"], false);
    c.fails(
        1,
        &["decrypt", "--in", &c.path("v1"), "--out", &c.path("back")],
    );

    // List filters.
    c.ok(&["key", "create", "sig", "--spec", "ECC_NIST_P256"]);
    c.ok(&["key", "disable", "sig"]);
    let only = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["key", "list"];
        a.extend_from_slice(args);
        c.json(&a)
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["label"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(only(&["--state", "disabled"]), ["sig"]);
    assert_eq!(only(&["--spec", "p256"]), ["sig"]);
    assert_eq!(only(&["--state", "Enabled", "--spec", "aes256"]), ["meta"]);
    c.fails(1, &["key", "list", "--state", "sleepy"]);
}

#[test]
fn data_commands_take_back_what_they_write() {
    let c = Cli::ready();
    let id = c.json(&["key", "create", "data"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.ok(&["key", "create", "other"]);
    std::fs::write(c.path("p"), b"round trip").unwrap();

    // encrypt --json carries the message; decrypt takes its base64 back.
    let m = c.json(&[
        "encrypt",
        "--key",
        "data",
        "--context",
        "a=1",
        "--in",
        &c.path("p"),
    ]);
    assert_eq!(m["key_id"], id.as_str());
    assert_eq!(m["key_version"], 1);
    std::fs::write(c.path("m.b64"), m["ciphertext_blob"].as_str().unwrap()).unwrap();
    let d = c.json(&["decrypt", "--context", "a=1", "--in", &c.path("m.b64")]);
    assert_eq!(d["plaintext"], "cm91bmQgdHJpcA==");
    // --base64 output, decrypted to a file.
    let b = c.ok(&["encrypt", "--key", "data", "--base64", "--in", &c.path("p")]);
    std::fs::write(c.path("b.b64"), b).unwrap();
    c.ok(&[
        "decrypt",
        "--in",
        &c.path("b.b64"),
        "--out",
        &c.path("back"),
    ]);
    assert_eq!(std::fs::read(c.path("back")).unwrap(), b"round trip");

    // Files the CLI writes are its user's alone, and a message cut short
    // leaves no plaintext file behind (not even the part before the cut).
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(c.path("back"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let big = vec![7u8; 3 << 20];
    std::fs::write(c.path("big"), &big).unwrap();
    c.ok(&[
        "encrypt",
        "--key",
        "data",
        "--in",
        &c.path("big"),
        "--out",
        &c.path("big.m"),
    ]);
    let m = std::fs::read(c.path("big.m")).unwrap();
    std::fs::write(c.path("cut.m"), &m[..m.len() - 1000]).unwrap();
    c.fails(
        1,
        &[
            "decrypt",
            "--in",
            &c.path("cut.m"),
            "--out",
            &c.path("cut.out"),
        ],
    );
    assert!(!Path::new(&c.path("cut.out")).exists());
    let leftovers: Vec<_> = std::fs::read_dir(c.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    c.ok(&[
        "decrypt",
        "--in",
        &c.path("big.m"),
        "--out",
        &c.path("big.out"),
    ]);
    assert_eq!(std::fs::read(c.path("big.out")).unwrap(), big);

    // re-encrypt: the context it had, the context it gets.
    c.ok(&[
        "re-encrypt",
        "--key",
        "other",
        "--source-context",
        "a=1",
        "--context",
        "b=2",
        "--in",
        &c.path("m.b64"),
        "--out",
        &c.path("re"),
    ]);
    let d = c.json(&["decrypt", "--context", "b=2", "--in", &c.path("re")]);
    assert_eq!(d["plaintext"], "cm91bmQgdHJpcA==");
    assert_ne!(d["key_id"], id.as_str());
    c.fails(
        1,
        &[
            "decrypt",
            "--context",
            "a=1",
            "--in",
            &c.path("re"),
            "--out",
            &c.path("x"),
        ],
    );

    // Data keys: the printed base64 blob is accepted back, as is the file.
    let dk = c.json(&["datakey", "generate", "--key", "data", "--context", "a=1"]);
    std::fs::write(c.path("dk.b64"), dk["ciphertext_blob"].as_str().unwrap()).unwrap();
    let back = c.json(&[
        "datakey",
        "decrypt",
        "--blob",
        &c.path("dk.b64"),
        "--context",
        "a=1",
    ]);
    assert_eq!(back["plaintext"], dk["plaintext"]);
    let np = c.json(&[
        "datakey",
        "generate",
        "--key",
        "data",
        "--without-plaintext",
        "--out",
        &c.path("np.blob"),
    ]);
    assert!(np.get("plaintext").is_none(), "{np}");
    c.ok(&[
        "datakey",
        "decrypt",
        "--blob",
        &c.path("np.blob"),
        "--out",
        &c.path("np.key"),
    ]);
    assert_eq!(std::fs::read(c.path("np.key")).unwrap().len(), 32);

    // Data key pairs.
    for spec in ["p256", "ed25519", "rsa2048"] {
        let p = c.json(&["datakey", "generate-pair", "--key", "data", "--spec", spec]);
        assert_eq!(p["key_pair_spec"], spec);
        assert!(p["public_key"].is_string() && p["private_key_plaintext"].is_string());
        std::fs::write(
            c.path("pk.b64"),
            p["private_key_ciphertext_blob"].as_str().unwrap(),
        )
        .unwrap();
        let d = c.json(&["datakey", "decrypt", "--blob", &c.path("pk.b64")]);
        assert_eq!(d["plaintext"], p["private_key_plaintext"], "{spec}");
    }
    let p = c.json(&[
        "datakey",
        "generate-pair",
        "--key",
        "data",
        "--spec",
        "p384",
        "--without-plaintext",
    ]);
    assert!(p.get("private_key_plaintext").is_none(), "{p}");

    // Random: hex, base64, JSON.
    assert_eq!(c.ok(&["random", "--bytes", "16"]).trim().len(), 32);
    assert_eq!(
        c.json(&["random", "--bytes", "3"])["random"]
            .as_str()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn signatures_macs_and_public_keys() {
    let c = Cli::ready();
    std::fs::write(c.path("msg"), b"sign me").unwrap();
    for spec in ["p256", "p384", "ed25519", "rsa2048", "ml-dsa-44"] {
        c.ok(&["key", "create", spec, "--spec", spec]);
        let s = c.json(&["sign", "--key", spec, "--in", &c.path("msg")]);
        std::fs::write(c.path("sig"), s["signature"].as_str().unwrap()).unwrap();
        let v = c.json(&[
            "verify",
            "--key",
            spec,
            "--signature",
            &c.path("sig"),
            "--in",
            &c.path("msg"),
        ]);
        assert_eq!(v["valid"], true, "{spec}");
        assert_eq!(v["signing_algorithm"], s["signing_algorithm"]);
        // Another message: not valid, exit 1.
        std::fs::write(c.path("msg2"), b"sign me!").unwrap();
        let o = c.run(&[
            "--json",
            "verify",
            "--key",
            spec,
            "--signature",
            &c.path("sig"),
            "--in",
            &c.path("msg2"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{spec}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["valid"], false);
        let pem = c.ok(&["get-public-key", spec]);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        c.ok(&[
            "get-public-key",
            spec,
            "--format",
            "der",
            "--out",
            &c.path("der"),
        ]);
        assert_eq!(std::fs::read(c.path("der")).unwrap()[0], 0x30);
    }
    // An algorithm of another key type is refused in words, naming those
    // that fit.
    let e = c.fails(
        1,
        &[
            "sign",
            "--key",
            "p256",
            "--algorithm",
            "RSASSA_PSS_SHA_256",
            "--in",
            &c.path("msg"),
            "--out",
            &c.path("x"),
        ],
    );
    assert!(e.contains("ECDSA_SHA_384") && !e.contains("0x"), "{e}");
    let e = c.fails(
        1,
        &[
            "verify",
            "--key",
            "rsa2048",
            "--algorithm",
            "ED25519_SHA_512",
            "--signature",
            &c.path("sig"),
            "--in",
            &c.path("msg"),
        ],
    );
    assert!(e.contains("RSASSA_PSS_SHA_256"), "{e}");
    let e = c.fails(1, &["get-public-key", "p256", "--base64"]);
    assert!(e.contains("--format der"), "{e}");
    // A digest signed is the message signed (ECDSA and RSA).
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(b"sign me").to_vec()
    };
    std::fs::write(c.path("digest"), &digest).unwrap();
    for (key, alg) in [
        ("p256", "ECDSA_SHA_256"),
        ("rsa2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ] {
        c.ok(&[
            "sign",
            "--key",
            key,
            "--algorithm",
            alg,
            "--message-type",
            "digest",
            "--in",
            &c.path("digest"),
            "--out",
            &c.path("dsig"),
        ]);
        c.ok(&[
            "verify",
            "--key",
            key,
            "--algorithm",
            alg,
            "--signature",
            &c.path("dsig"),
            "--in",
            &c.path("msg"),
        ]);
    }
    let e = c.fails(
        1,
        &[
            "sign",
            "--key",
            "p256",
            "--message-type",
            "digest",
            "--in",
            &c.path("msg"),
            "--out",
            &c.path("x"),
        ],
    );
    assert!(e.contains("32-byte digest"), "{e}");
    let e = c.fails(
        1,
        &[
            "sign",
            "--key",
            "p256",
            "--algorithm",
            "ECDSA_SHA_1",
            "--in",
            &c.path("msg"),
            "--out",
            &c.path("x"),
        ],
    );
    assert!(e.contains("ECDSA_SHA_1"), "{e}");

    // MACs.
    c.ok(&["key", "create", "mac", "--spec", "hmac384"]);
    c.ok(&[
        "mac",
        "generate",
        "--key",
        "mac",
        "--in",
        &c.path("msg"),
        "--out",
        &c.path("tag"),
    ]);
    assert_eq!(std::fs::read(c.path("tag")).unwrap().len(), 48);
    let v = c.json(&[
        "mac",
        "verify",
        "--key",
        "mac",
        "--mac",
        &c.path("tag"),
        "--in",
        &c.path("msg"),
    ]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["mac_algorithm"], "HMAC_SHA_384");
    let o = c.run(&[
        "mac",
        "verify",
        "--key",
        "mac",
        "--mac",
        &c.path("tag"),
        "--in",
        &c.path("msg2"),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn pins_change_for_the_owner_and_principals() {
    let c = Cli::ready();
    c.ok(&["key", "create", "k"]);
    c.ok_with(&[("SOFTKMS_NEW_PIN", "owner-new-pin")], &["pin", "change"]);
    c.fails(1, &["key", "list"]);
    let o = c.run_with(&[("SOFTKMS_PIN", "owner-new-pin")], &["key", "list"]);
    assert!(o.status.success());
    // A principal changes its own PIN.
    c.ok_with(
        &[("SOFTKMS_NEW_PIN", "alice-pin-1")],
        &["user", "add", "alice"],
    );
    assert_eq!(
        c.json(&["user", "list"]),
        serde_json::json!([{"principal": "alice"}])
    );
    c.ok_with(
        &[
            ("SOFTKMS_PIN", "alice-pin-1"),
            ("SOFTKMS_NEW_PIN", "alice-pin-2"),
        ],
        &["--user", "alice", "pin", "change"],
    );
    let o = c.run_with(
        &[("SOFTKMS_PIN", "alice-pin-1")],
        &["--user", "alice", "key", "list"],
    );
    assert_eq!(o.status.code(), Some(1));
    c.ok_with(
        &[("SOFTKMS_PIN", "alice-pin-2")],
        &["--user", "alice", "key", "list"],
    );
    // The SO's own PIN.
    c.ok_with(
        &[("SOFTKMS_NEW_PIN", "so-new-pin")],
        &["pin", "change", "--so"],
    );
    c.ok_with(
        &[("SOFTKMS_SO_PIN", "so-new-pin")],
        &["user", "remove", "alice"],
    );
}

#[test]
fn the_demo_runs_on_a_throw_away_token_and_cleans_up() {
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let o = Command::new("bash")
        .arg(&script)
        .env("SOFTKMS_BIN", env!("CARGO_BIN_EXE_softkms"))
        .env("HOME", home.path())
        .env("TMPDIR", tmp.path())
        .env_remove("SOFTKMS_CONF")
        .env_remove("SOFTKMS_PIN")
        .env_remove("SOFTKMS_SO_PIN")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("audit log verifies"), "{out}");
    // Nothing in the user's home (no default token), nothing left in TMPDIR.
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn the_other_verbs_and_their_json() {
    let c = Cli::ready();
    let info = c.json(&["token", "info"]);
    for f in [
        "slot",
        "label",
        "serial",
        "initialized",
        "user_pin_initialized",
        "path",
    ] {
        assert!(info.get(f).is_some(), "{f}: {info}");
    }
    let k = c.json(&["key", "create", "pol"]);
    let id = k["id"].as_str().unwrap().to_string();
    c.ok(&["alias", "create", "alias/pol", "pol"]);

    // Objects: one shape, the alias among them by its class.
    let objects = c.json(&["object", "list"]);
    let classes: Vec<&str> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"secret-key") && classes.contains(&"alias"),
        "{objects}"
    );

    // Mechanisms: one JSON array, and the Markdown table.
    let mechs = c.json(&["mechanisms"]);
    let gcm = mechs
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mechanism"] == "CKM_AES_GCM")
        .unwrap();
    assert!(gcm["functions"]
        .as_array()
        .unwrap()
        .contains(&"encrypt".into()));
    assert!(c
        .ok(&["mechanisms", "--markdown"])
        .starts_with("| mechanism |"));

    // Policies: set from a file, read back, a lock-out refused without --force.
    let policy = r#"{"statements":[{"principals":["user"],"allow":["*"]},{"principals":["alice"],"allow":["Encrypt"]}]}"#;
    std::fs::write(c.path("policy.json"), policy).unwrap();
    let k = c.json(&[
        "key",
        "set-policy",
        "alias/pol",
        "--policy",
        &c.path("policy.json"),
    ]);
    assert_key_shape(&k);
    assert_eq!(k["policy"]["statements"][1]["principals"][0], "alice");
    let p = c.json(&["key", "get-policy", &id]);
    assert_eq!(p["statements"][1]["allow"][0], "Encrypt");
    std::fs::write(
        c.path("lock.json"),
        r#"{"statements":[{"principals":["alice"],"allow":["Encrypt"]}]}"#,
    )
    .unwrap();
    let e = c.fails(
        1,
        &["key", "set-policy", "pol", "--policy", &c.path("lock.json")],
    );
    assert!(e.contains("--force"), "{e}");

    // Principals: the SO adds one, sets its PIN; it logs in with it.
    c.ok_with(
        &[("SOFTKMS_NEW_PIN", "alice-pin-1")],
        &["user", "add", "alice"],
    );
    let v = c.run_with(
        &[("SOFTKMS_NEW_PIN", "alice-pin-2")],
        &["--json", "user", "set-pin", "alice"],
    );
    assert!(v.status.success());
    let v: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"principal": "alice", "done": "PIN set"})
    );
    std::fs::write(c.path("p"), b"from alice").unwrap();
    c.ok_with(
        &[("SOFTKMS_PIN", "alice-pin-2")],
        &[
            "--user",
            "alice",
            "encrypt",
            "--key",
            "pol",
            "--in",
            &c.path("p"),
            "--out",
            &c.path("m"),
        ],
    );
    // alice may encrypt, not decrypt: refused, in words, and audited.
    let o = c.run_with(
        &[("SOFTKMS_PIN", "alice-pin-2")],
        &[
            "--json",
            "--user",
            "alice",
            "decrypt",
            "--in",
            &c.path("m"),
            "--out",
            &c.path("x"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["error"]["code"], "CKR_KEY_FUNCTION_NOT_PERMITTED");

    // The audit log: show (an array), export (JSON lines), verify, head.
    let shown = c.json(&["audit", "show", "--key", "pol"]);
    let shown = shown.as_array().unwrap();
    assert!(
        shown
            .iter()
            .any(|r| r.to_string().contains("CKR_KEY_FUNCTION_NOT_PERMITTED")),
        "{shown:?}"
    );
    let lines = c.ok(&["audit", "export", "--key", &id]);
    assert!(lines.lines().count() >= shown.len());
    for line in lines.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let v = c.json(&["audit", "verify"]);
    assert_eq!(v["ok"], true);
    let head = c.json(&["audit", "head"]);
    assert!(head["sequence"].as_u64().unwrap() >= v["head"]["sequence"].as_u64().unwrap());
    assert_eq!(head["hash"].as_str().unwrap().len(), 64);
}
