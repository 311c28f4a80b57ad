//! The C ABI: `libsoftkms.so` exports exactly the three PKCS#11 3.0 entry points
//! and nothing else (every other `C_*` is reached through the function tables).

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

#[test]
fn exactly_three_symbols_are_exported() {
    let so = common::module_path();
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm failed on {}", so.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["C_GetFunctionList", "C_GetInterface", "C_GetInterfaceList"],
        "exports: {text}"
    );
}
