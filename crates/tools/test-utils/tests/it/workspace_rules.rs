//! The dependency rules of `docs/repo/layout.md`, checked on `cargo metadata`:
//!
//! - areas point down: tools → platform → client → engine → core; the one exception is
//!   `covenant-api-types` (client area), which depends on core only and which the engine's API
//!   serves;
//! - the contract runtimes (`covenant-vm`, later the EVM) depend on no engine crate;
//! - platform crates reach nodes only through the client SDK and the API types: no engine
//!   crate but a contract runtime (to check modules by the rules nodes apply);
//! - the contract SDK depends on no workspace crate;
//! - nothing in the build enables serde_json's `preserve_order` or `arbitrary_precision`
//!   (the `covenant` binary links the engine with everything else, so one crate enabling them
//!   would change how every node orders and prints JSON that feeds a hash).
//!
//! Dev-dependencies are free to reach any crate (tests use `covenant-test-utils`).

use std::{collections::BTreeMap, path::Path, process::Command};

use serde_json::{Value, json};

const AREAS: [&str; 5] = ["core", "engine", "client", "platform", "tools"];
const CONTRACT_RUNTIMES: [&str; 1] = ["covenant-vm"];
const API_TYPES: &str = "covenant-api-types";
const FORBIDDEN_JSON_FEATURES: [&str; 2] = ["preserve_order", "arbitrary_precision"];
/// The feature that builds a node able to misbehave on command (see covenant_consensus::misbehave).
const MISBEHAVE: &str = "misbehave";

fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(covenant_test_utils::repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace package's area (`crates/<area>/<name>`), by package name.
fn areas(meta: &Value) -> BTreeMap<String, String> {
    let root = Path::new(meta["workspace_root"].as_str().unwrap_or_default());
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        if !members.contains(&p["id"].as_str().unwrap_or_default()) {
            continue;
        }
        let manifest = Path::new(p["manifest_path"].as_str().unwrap_or_default());
        let rel = manifest.strip_prefix(root).unwrap_or(manifest);
        let parts: Vec<_> = rel.iter().filter_map(|s| s.to_str()).collect();
        let area = match parts.as_slice() {
            ["crates", area, _, "Cargo.toml"] => area.to_string(),
            _ => format!("outside crates/<area>/<name>: {}", rel.display()),
        };
        out.insert(p["name"].as_str().unwrap_or_default().to_string(), area);
    }
    out
}

/// Every broken rule, one line each.
fn violations(meta: &Value) -> Vec<String> {
    let areas = areas(meta);
    let rank = |a: &str| AREAS.iter().position(|x| *x == a);
    let mut out = Vec::new();
    for (name, area) in &areas {
        if area != "contract-sdk" && rank(area).is_none() {
            out.push(format!("{name}: {area}"));
        }
    }
    for p in meta["packages"].as_array().into_iter().flatten() {
        let from = p["name"].as_str().unwrap_or_default();
        let Some(from_area) = areas.get(from) else {
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            if d["kind"].as_str() == Some("dev") {
                continue;
            }
            let to = d["name"].as_str().unwrap_or_default();
            let Some(to_area) = areas.get(to) else {
                continue;
            };
            let edge = format!("{from} ({from_area}) depends on {to} ({to_area})");
            if d["features"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f.as_str() == Some(MISBEHAVE))
            {
                out.push(format!(
                    "{edge} with `{MISBEHAVE}`: only tests (dev-dependencies) build a node that misbehaves"
                ));
            }
            if from_area == "contract-sdk" {
                out.push(format!(
                    "{edge}: the contract SDK depends on no workspace crate"
                ));
                continue;
            }
            if to_area == "contract-sdk" {
                continue;
            }
            if from == API_TYPES && to_area != "core" {
                out.push(format!("{edge}: the API types depend on core crates only"));
            }
            if CONTRACT_RUNTIMES.contains(&from) && to_area == "engine" {
                out.push(format!(
                    "{edge}: a contract runtime depends on no engine crate"
                ));
            }
            // The one engine crate the platform uses is a contract runtime (itself free of
            // engine crates), to check modules against the very rules nodes apply.
            if from_area == "platform" && to_area == "engine" && !CONTRACT_RUNTIMES.contains(&to) {
                out.push(format!(
                    "{edge}: the platform reaches nodes only through the client SDK and the API types"
                ));
            }
            let down = match (rank(from_area), rank(to_area)) {
                (Some(f), Some(t)) => t <= f || to == API_TYPES,
                _ => false,
            };
            if !down {
                out.push(format!(
                    "{edge}: dependencies point down tools → platform → client → engine → core"
                ));
            }
        }
    }
    for node in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
        let id = node["id"].as_str().unwrap_or_default();
        let is_serde_json = id.contains("#serde_json@") || id.starts_with("serde_json ");
        if !is_serde_json {
            continue;
        }
        for f in node["features"].as_array().into_iter().flatten() {
            if let Some(f) = f.as_str()
                && FORBIDDEN_JSON_FEATURES.contains(&f)
            {
                out.push(format!(
                    "serde_json is built with `{f}`: JSON that feeds a hash would depend on it"
                ));
            }
        }
    }
    out
}

#[test]
fn the_workspace_keeps_its_dependency_rules() {
    let meta = metadata();
    let areas = areas(&meta);
    // The check sees the real workspace: the engine and the tools are there.
    for (crate_name, area) in [
        ("covenant-crypto", "core"),
        ("covenant-chain", "engine"),
        ("covenant-sdk", "client"),
        ("covenant-deploy", "platform"),
        ("covenant-cli", "tools"),
    ] {
        assert_eq!(areas.get(crate_name).map(String::as_str), Some(area));
    }
    let v = violations(&meta);
    assert!(v.is_empty(), "dependency rules broken:\n{}", v.join("\n"));
}

/// A workspace package for [`synthetic`]: name, area, normal dependencies (`name+feature`
/// asks for a feature).
type Package<'a> = (&'a str, &'a str, &'a [&'a str]);

/// A metadata document with the given packages (name, area, normal deps) and serde_json
/// features, shaped like `cargo metadata`'s.
fn synthetic(packages: &[Package<'_>], json_features: &[&str]) -> Value {
    let root = "/ws";
    let pkgs: Vec<Value> = packages
        .iter()
        .map(|(name, area, deps)| {
            json!({
                "name": name,
                "id": format!("path+file:///ws/crates/{area}/{name}#0.1.0"),
                "manifest_path": format!("{root}/crates/{area}/{name}/Cargo.toml"),
                "dependencies": deps.iter().map(|d| match d.split_once('+') {
                    Some((name, feature)) => json!({"name": name, "kind": null, "features": [feature]}),
                    None => json!({"name": d, "kind": null, "features": []}),
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let members: Vec<Value> = pkgs.iter().map(|p| p["id"].clone()).collect();
    json!({
        "workspace_root": root,
        "workspace_members": members,
        "packages": pkgs,
        "resolve": {"nodes": [{
            "id": "registry+https://github.com/rust-lang/crates.io-index#serde_json@1.0.140",
            "features": json_features,
        }]},
    })
}

#[test]
fn the_rules_catch_each_kind_of_violation() {
    let ok = synthetic(
        &[
            ("covenant-crypto", "core", &[]),
            ("covenant-api-types", "client", &["covenant-crypto"]),
            (
                "covenant-chain",
                "engine",
                &["covenant-crypto", "covenant-api-types"],
            ),
            ("covenant-deploy", "platform", &["covenant-api-types"]),
            ("covenant-vm", "engine", &["covenant-crypto"]),
            // A contract runtime is the one engine crate the platform may use.
            ("covenant-platform", "platform", &["covenant-vm"]),
            (
                "covenant-cli",
                "tools",
                &["covenant-chain", "covenant-deploy"],
            ),
        ],
        &["std"],
    );
    assert_eq!(violations(&ok), Vec::<String>::new());
    let cases: [(&[Package<'_>], &[&str], &str); 7] = [
        (
            &[
                ("covenant-deploy", "platform", &[]),
                ("covenant-chain", "engine", &["covenant-deploy"]),
            ],
            &[],
            "point down",
        ),
        (
            &[
                ("covenant-chain", "engine", &[]),
                ("covenant-vm", "engine", &["covenant-chain"]),
            ],
            &[],
            "contract runtime",
        ),
        (
            &[
                ("covenant-node", "engine", &[]),
                ("covenant-platform", "platform", &["covenant-node"]),
            ],
            &[],
            "only through the client SDK",
        ),
        (
            &[
                ("covenant-chain", "engine", &[]),
                ("covenant-api-types", "client", &["covenant-chain"]),
            ],
            &[],
            "core crates only",
        ),
        (
            &[
                ("covenant-crypto", "core", &[]),
                ("covenant-contract", "contract-sdk", &["covenant-crypto"]),
            ],
            &[],
            "contract SDK",
        ),
        (
            &[("covenant-crypto", "core", &[])],
            &["std", "preserve_order"],
            "preserve_order",
        ),
        (
            &[
                ("covenant-node", "engine", &[]),
                ("covenant-cli", "tools", &["covenant-node+misbehave"]),
            ],
            &[],
            "only tests",
        ),
    ];
    for (packages, features, expected) in cases {
        let v = violations(&synthetic(packages, features));
        assert!(
            v.iter().any(|line| line.contains(expected)),
            "expected a violation mentioning {expected:?}, got {v:?}"
        );
    }
}
