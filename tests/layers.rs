//! The layer rule of `docs/architecture.md`: a module imports only from the
//! layers below it and from the leaves. Reads every `crate::` path in `src/`
//! (test code left out) and names each arrow that points up.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use std::path::{Path, PathBuf};

/// Layers, top first; a module may use the modules of later rows. Modules in
/// one row may not use each other.
const LAYERS: &[&[&str]] = &[
    &["serve"],
    &["ffi", "api"],
    &["module"],
    &["remote"],
    &["session"],
    &["mechanism"],
    &["gate"],
    &["token"],
    &["kms"],
    &["object"],
    &["store"],
    &["config"],
    &["crypto"],
];

/// Used by anyone; they use only `error` and `sys` (which use nothing).
const LEAVES: &[&str] = &[
    "abi",
    "clock",
    "principal",
    "error",
    "info",
    "log",
    "outbuf",
    "sys",
];

fn rank(m: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&m))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module and comments.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push((i + 1, line));
    }
    out
}

#[test]
fn no_arrow_points_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    let mut unknown = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel.iter().next().unwrap().to_str().unwrap();
        let from = first.trim_end_matches(".rs");
        if matches!(from, "lib" | "bin") || rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in code_lines(&text) {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let to_owned: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let to = to_owned.as_str();
                if to == from || to.is_empty() {
                    continue;
                }
                let ok = if LEAVES.contains(&from) {
                    to == "error" || (to == "sys" && from != "error")
                } else if LEAVES.contains(&to) {
                    true
                } else {
                    match (rank(from), rank(to)) {
                        (Some(a), Some(b)) => b > a,
                        _ => {
                            unknown.push(format!("{}:{n}: {from} -> {to}", rel.display()));
                            true
                        }
                    }
                };
                if !ok {
                    bad.push(format!("{}:{n}: {from} -> {to}", rel.display()));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the layer table (tests/layers.rs, docs/architecture.md): {unknown:#?}"
    );
    assert!(bad.is_empty(), "arrows that point up: {bad:#?}");
}
