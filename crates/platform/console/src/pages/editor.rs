//! Writing a contract in Rust in the browser: the source in an editor (line numbers and syntax
//! colours where the script runs; a plain text area where it does not), checked by the
//! platform — the contract rules, the build, clippy and the module checks — with each finding
//! linked to its line, and, once nothing blocks it, proposed for install or upgrade as built.

use axum::{
    extract::{Path, rejection::FormRejection},
    response::Response,
};
use covenant_platform::action as a;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Fields, refused};
use crate::{
    gateway::enc,
    layout::{self, Nav, csrf, text},
    viewer::Viewer,
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

/// What a new contract starts from.
const STARTER: &str = r#"//! A register of notes: anyone on the chain may read; only the org that wrote a note changes it.
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use alloc::string::String;
use covenant_contract::{Context, Error, contract};
use serde::Deserialize;

#[derive(Deserialize)]
struct Write {
    key: String,
    text: String,
}

#[derive(Deserialize)]
struct Read {
    key: String,
}

fn write(ctx: &mut Context, a: Write) -> Result<(), Error> {
    let org = ctx.caller().org;
    let owner_key = alloc::format!("owner/{}", a.key);
    if let Some(owner) = ctx.get_string(owner_key.as_bytes())
        && owner != org
    {
        return Err(Error::new("another org wrote this note"));
    }
    ctx.put(owner_key.as_bytes(), org.as_bytes());
    ctx.put(a.key.as_bytes(), a.text.as_bytes());
    ctx.emit("written", &a.key);
    Ok(())
}

fn read(ctx: &mut Context, a: Read) -> Result<Option<String>, Error> {
    Ok(ctx.get_string(a.key.as_bytes()))
}

contract! {
    "write" => write,
    "read" => read,
}
"#;

fn editor(
    v: &Viewer,
    chain: &str,
    source: &str,
    name: &str,
    version: &str,
    upgrade: bool,
    report: Option<&Value>,
) -> Markup {
    let l = v.lang;
    let findings = report
        .and_then(|r| r["findings"].as_array().cloned())
        .unwrap_or_default();
    let flagged: Vec<String> = findings
        .iter()
        .filter_map(|f| f["line"].as_u64().map(|n| n.to_string()))
        .collect();
    html! {
        @if let Some(r) = report {
            @if r["ok"] == true {
                div.notice.good role="status" { (l.t("source-checks-passed")) }
            } @else {
                div.notice.bad role="alert" { (l.t("source-checks-failed")) }
            }
        }
        section.card {
            p.hint { (l.t("editor-hint")) }
            form method="post" action={"/chains/" (enc(chain)) "/contracts/source"} {
                (csrf(v))
                div.field {
                    label for="e-name" { (l.t("name")) }
                    input #e-name name="name" type="text" required pattern="[a-z][a-z0-9_]{0,31}" maxlength="32" value=(name);
                }
                div.field {
                    label for="e-version" { (l.t("version")) span.hint { " " (l.t("optional")) } }
                    input #e-version name="version" type="text" maxlength="32" value=(version);
                }
                div.field.check {
                    input #e-upgrade name="upgrade" type="checkbox" value="true" checked[upgrade];
                    label for="e-upgrade" { (l.t("as-upgrade")) }
                }
                div.field.wide {
                    label for="e-source" { (l.t("contract-source")) " " code { "src/lib.rs" } }
                    textarea #e-source.code-editor name="source" rows="30" spellcheck="false" autocapitalize="off" data-editor data-flagged=(flagged.join(",")) required { (source) }
                }
                button.primary type="submit" name="intent" value="check" { (l.t("check-source")) }
            }
        }
        @if let Some(r) = report {
            section.card #findings {
                h2 { (l.t("findings")) }
                dl.facts {
                    dt { (l.t("built")) } dd { (if r["built"] == true { l.t("yes") } else { l.t("no") }) }
                    dt { (l.t("linted")) } dd { (if r["linted"] == true { l.t("yes") } else { l.t("no") }) }
                    dt { (l.t("methods")) } dd { @for m in r["methods"].as_array().into_iter().flatten() { code { (text(m)) } " " } }
                    @if let Some(sha) = r["sha256"].as_str() { dt { (l.t("code-sha256")) } dd { code.wrap { (sha) } } }
                }
                @if findings.is_empty() { (layout::empty(l, "empty-findings", None)) } @else {
                    table {
                        thead { tr { th scope="col" { (l.t("severity")) } th scope="col" { (l.t("line")) } th scope="col" { (l.t("rule")) } th scope="col" { (l.t("detail")) } } }
                        tbody { @for x in &findings {
                            @let sev = x["severity"].as_str().unwrap_or_default();
                            tr {
                                td { span class={"badge " (if sev == "error" { "bad" } else if sev == "warning" { "warn" } else { "neutral" })} { (sev) } }
                                td { @if let Some(n) = x["line"].as_u64() { a.goto-line href={"#e-source"} data-line=(n) { (n) } } @else { (text(&x["location"])) } }
                                td { code { (rule_label(x)) } }
                                td { (text(&x["message"])) }
                            }
                        } }
                    }
                }
                @if r["ok"] == true && v.may(a::CONTRACT_MANAGE) {
                    form method="post" action={"/chains/" (enc(chain)) "/contracts/source"} {
                        (csrf(v))
                        input type="hidden" name="name" value=(name);
                        input type="hidden" name="version" value=(version);
                        @if upgrade { input type="hidden" name="upgrade" value="true"; }
                        input type="hidden" name="source" value=(source);
                        input type="hidden" name="module" value=(r["module"].as_str().unwrap_or_default());
                        button.primary type="submit" name="intent" value="propose" { (if upgrade { l.t("propose-upgrade-built") } else { l.t("propose-install-built") }) }
                    }
                }
            }
        }
        p { a href={"/chains/" (enc(chain))} { (l.t("back-to-chain")) } }
    }
}

/// `GET /chains/{id}/contracts/source`.
pub async fn page(v: Viewer, Path(chain): Path<String>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    // The chain must be one the viewer sees.
    v.get(&format!("/api/v1/chains/{}", enc(&chain))).await?;
    let body = editor(&v, &chain, STARTER, "notes", "", false, None);
    Ok(layout::page(
        &v,
        &l.t("contract-editor"),
        Nav::Networks,
        body,
    ))
}

/// `POST /chains/{id}/contracts/source`: check the source, or propose the module it built.
pub async fn submit(
    v: Viewer,
    Path(chain): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let f = Fields::from(form);
    let source = f.get("source").to_string();
    let name = f.get("name").to_string();
    let version = f.get("version").to_string();
    let upgrade = f.get("upgrade") == "true";
    let w = v.with_csrf(f.csrf());
    if f.get("intent") == "propose" {
        let module = f.get("module");
        if module.is_empty() {
            return Err(refused(
                &v,
                &crate::gateway::ApiError::console(400, "MODULE_MISSING", l.t("module-missing")),
            ));
        }
        let consortium = super::proposals::consortium_of_chain(&v, &chain).await?;
        let kind = if upgrade {
            "contract.upgrade"
        } else {
            "contract.install"
        };
        let params = json!({
            "chain_id": chain,
            "name": name,
            "version": Some(version).filter(|s| !s.is_empty()),
            "code": module,
        });
        return Ok(super::proposals::propose(&v, f.csrf(), &consortium, kind, params).await);
    }
    let report = w
        .send(
            axum::http::Method::POST,
            "/api/v1/contracts/source-check",
            &json!({"source": source}),
        )
        .await
        .map_err(|e| refused(&v, &e))?;
    let body = editor(&v, &chain, &source, &name, &version, upgrade, Some(&report));
    Ok(layout::page(
        &v,
        &l.t("contract-editor"),
        Nav::Networks,
        body,
    ))
}

/// "clippy::unwrap_used" already names its tool; other rules get theirs in front.
fn rule_label(x: &Value) -> String {
    let tool = x["tool"].as_str().unwrap_or_default();
    let rule = x["rule"].as_str().unwrap_or_default();
    if rule.starts_with(&format!("{tool}::")) {
        rule.to_string()
    } else {
        format!("{tool}: {rule}")
    }
}
