//! A Rust contract from source through the platform: the contract rules, the build, clippy and
//! the module checks, each finding at its line; a source that reads the building machine's
//! files is not built; one that does not compile has the compiler's errors at their lines; a
//! clean one comes back as a module that is proposed, installed and called on a chain.

use serde_json::{Value, json};

use crate::platform::{Platform, deploy_solo_chain, http, register, wait_proposal};

const NOTES: &str = r#"//! Notes anyone may write; the owner's stay.
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;
use alloc::string::String;
use covenant_contract::{Context, Error, contract};
use serde::Deserialize;

#[derive(Deserialize)]
struct Note {
    key: String,
    text: String,
}

fn write(ctx: &mut Context, a: Note) -> Result<(), Error> {
    ctx.put(a.key.as_bytes(), a.text.as_bytes());
    Ok(())
}

fn read(ctx: &mut Context, a: Note) -> Result<String, Error> {
    let text = ctx.get_string(a.key.as_bytes()).unwrap();
    Ok(text)
}

contract! {
    "write" => write,
    "read" => read,
}
"#;

fn finding<'a>(r: &'a Value, rule: &str) -> Option<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
}

#[test]
fn a_contract_from_source_is_checked_built_and_installed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let platform = Platform::start(tmp.path(), None, covenant_test_utils::free_ports(30));
    let base = platform.url.clone();
    let a = register(&rt, &base, "bank-a", false);
    let check = |source: &str| -> (u16, Value) {
        http(
            &rt,
            &base,
            Some(&a.token),
            "POST",
            "/api/v1/contracts/source-check",
            Some(json!({"source": source})),
        )
    };

    // Reading the platform's files into a contract: refused before anything is built.
    let (status, r) = check(&NOTES.replace(
        "extern crate alloc;",
        "extern crate alloc;\nconst SECRET: &str = include_str!(\"/etc/hostname\");",
    ));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["built"], false, "{r}");
    let f = finding(&r, "forbidden-macro").unwrap_or_else(|| panic!("{r}"));
    assert_eq!(
        (f["severity"].as_str(), f["line"].as_u64()),
        (Some("error"), Some(4))
    );

    // A type error: the compiler's own error at its line, nothing to propose.
    let (status, r) = check(&NOTES.replace("Ok(text)", "Ok(42)"));
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["built"].as_bool(), r["ok"].as_bool()),
        (Some(false), Some(false)),
        "{r}"
    );
    let f = finding(&r, "E0308").unwrap_or_else(|| panic!("{r}"));
    assert_eq!(
        (f["tool"].as_str(), f["line"].as_u64()),
        (Some("rustc"), Some(21)),
        "{f}"
    );
    assert!(r["module"].is_null());

    // The notes contract: built, linted, the module checked; warnings at their lines.
    let (status, r) = check(NOTES);
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["built"].as_bool(), r["ok"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
    assert_eq!(r["methods"], json!(["write", "read"]));
    let f = finding(&r, "state-write-without-caller-check").unwrap_or_else(|| panic!("{r}"));
    assert_eq!(f["line"], 15, "{f}");
    let f = finding(&r, "panic-in-method").unwrap_or_else(|| panic!("{r}"));
    assert_eq!(f["line"], 20, "{f}");
    assert_eq!(r["linted"], true, "{r}");
    let f = finding(&r, "clippy::unwrap_used").unwrap_or_else(|| panic!("clippy ran: {r}"));
    assert_eq!(
        (f["tool"].as_str(), f["line"].as_u64()),
        (Some("clippy"), Some(20)),
        "{f}"
    );
    let module = r["module"].as_str().unwrap().to_string();

    // Proposed as it came back, installed, and called.
    deploy_solo_chain(&rt, &a, "ledger");
    let cid = a.get(&rt, "/api/v1/chains/ledger")["consortium_id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "contract.install", "params": {"chain_id": "ledger", "name": "notes", "code": module}}),
    );
    wait_proposal(&rt, &a, p["id"].as_str().unwrap(), "executed", 60);
    let w = a.post(
        &rt,
        "/api/v1/chains/ledger/contracts/notes/invoke",
        json!({"method": "write", "args": {"key": "k", "text": "hello"}}),
    );
    assert_eq!(w["result"]["code"], "OK", "{w}");
    let q = a.post(
        &rt,
        "/api/v1/chains/ledger/contracts/notes/query",
        json!({"method": "read", "args": {"key": "k", "text": ""}}),
    );
    assert_eq!(
        (q["code"].as_str(), q["result"].as_str()),
        (Some("OK"), Some("hello")),
        "{q}"
    );
    let versions = a.get(&rt, "/api/v1/chains/ledger/contracts/notes/versions");
    assert_eq!(
        versions["items"][0]["code_sha256"], r["sha256"],
        "{versions}"
    );

    // Bad input: an empty source.
    let (status, e) = check("   ");
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("SOURCE_EMPTY")),
        "{e}"
    );
}
