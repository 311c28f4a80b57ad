//! The `softkms` command line, as a script would drive it.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use std::path::Path;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            "[[slot]]\npath = \"{}\"\nkdf = \"fast\"\n",
            dir.path().join("t.db").display()
        );
        std::fs::write(dir.path().join("softkms.toml"), conf).unwrap();
        Cli { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_softkms"))
            .args(args)
            .env("SOFTKMS_CONF", self.dir.path().join("softkms.toml"))
            .env("SOFTKMS_SO_PIN", "cli-so-pin")
            .env("SOFTKMS_PIN", "cli-user-pin")
            .output()
            .unwrap()
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
        serde_json::from_str(&self.ok(&a)).unwrap()
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
    let o = Command::new(env!("CARGO_BIN_EXE_softkms"))
        .args(["token", "init", "--label", "x"])
        .env("SOFTKMS_CONF", c.dir.path().join("softkms.toml"))
        .env_remove("SOFTKMS_SO_PIN")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("SOFTKMS_SO_PIN"));
    c.ok(&["token", "init", "--label", "cli"]);
    let o = c.run(&["key", "show", "nope"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no key labelled"));
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
