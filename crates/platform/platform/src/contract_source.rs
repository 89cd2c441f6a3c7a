//! A Rust contract's source, checked before any vote: the contract rules below (read from the
//! parsed source), then the same builder the CLI uses (`cargo build` for wasm32, release),
//! clippy with the lints a contract should heed, and the module checks every WASM contract
//! gets ([`crate::contract`]). Every finding has a severity, a rule, a message and the line
//! and column it is about; a finding of severity `error` means nothing can be proposed.
//!
//! The contract rules:
//! - `forbidden-macro` (error): `include_str!`, `include_bytes!`, `include!`, `env!`,
//!   `option_env!` read the building machine's files or environment into the module; such a
//!   source is not built at all. `mod name;` and `#[path]` (source from other files) likewise.
//! - `state-write-without-caller-check` (warning): a method writes state but never asks who
//!   called it (`ctx.caller()`), so anyone admitted to the chain may change it.
//! - `unbounded-state-range` (warning): a `range`/`prefix` whose limit is not a small constant
//!   or capped with `.min(..)`.
//! - `state-range-in-loop` (warning): a `range`/`prefix` inside a loop, which can walk
//!   unbounded state one page at a time.
//! - `panic-in-method` (warning): `unwrap`, `expect`, `panic!`, `unreachable!`, `todo!`,
//!   `unimplemented!` in a method: a panic fails the call with no message for its sender;
//!   decode arguments and handle absence with errors instead.

use std::{path::PathBuf, time::Duration};

use proc_macro2::{Span, TokenStream, TokenTree};
use serde::Serialize;
use syn::visit::Visit;

use crate::{
    Platform,
    error::{Error, Result},
    time::sha256_hex,
};

/// Largest source accepted.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
/// Longest a build and its lint may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// One build at a time: they share a build directory and the machine's cores.
static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One finding about the source or the module built from it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFinding {
    /// `error` (nothing can be proposed), `warning` or `info`.
    pub severity: &'static str,
    /// `rules` (the contract rules), `rustc`, `clippy` or `module`.
    pub tool: &'static str,
    /// The rule, lint or error code.
    pub rule: String,
    pub message: String,
    /// Line and column in `src/lib.rs` (1-based), when the finding has a place there.
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// Where in the module, for module findings.
    pub location: Option<String>,
}

/// What the checks of a source found.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// No finding of severity `error`, and a module was built.
    pub ok: bool,
    /// Whether it compiled.
    pub built: bool,
    /// Whether clippy ran on it.
    pub linted: bool,
    /// The contract's methods, from its `contract!` table.
    pub methods: Vec<String>,
    pub findings: Vec<SourceFinding>,
    /// The module (base64) when `ok`, to propose as it is.
    pub module: Option<String>,
    pub size: Option<usize>,
    pub sha256: Option<String>,
}

fn at(span: Span) -> (Option<u64>, Option<u64>) {
    let start = span.start();
    (Some(start.line as u64), Some(start.column as u64 + 1))
}

fn rule(severity: &'static str, name: &str, message: String, span: Span) -> SourceFinding {
    let (line, column) = at(span);
    SourceFinding {
        severity,
        tool: "rules",
        rule: name.to_string(),
        message,
        line,
        column,
        location: None,
    }
}

const FORBIDDEN_MACROS: [&str; 5] = [
    "include_str",
    "include_bytes",
    "include",
    "env",
    "option_env",
];
const PANICKING_MACROS: [&str; 4] = ["panic", "unreachable", "todo", "unimplemented"];
/// The largest literal limit of a state range that counts as bounded.
const RANGE_LIMIT: u128 = 1000;

/// Every `name!` in the tokens whose name is forbidden, and every `#[path ...]`.
fn scan_tokens(tokens: TokenStream, out: &mut Vec<SourceFinding>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in trees.iter().enumerate() {
        match t {
            TokenTree::Ident(id) => {
                let name = id.to_string();
                let bang =
                    matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                if bang && FORBIDDEN_MACROS.contains(&name.as_str()) {
                    out.push(rule(
                        "error",
                        "forbidden-macro",
                        format!("{name}! reads the building machine's files or environment into the contract; contracts carry everything they need in their source"),
                        id.span(),
                    ));
                }
            }
            TokenTree::Group(g) => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                let is_attr = i > 0
                    && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '#')
                    && g.delimiter() == proc_macro2::Delimiter::Bracket;
                if is_attr
                    && let Some(TokenTree::Ident(first)) = inner.first()
                    && first == "path"
                {
                    out.push(rule(
                        "error",
                        "forbidden-macro",
                        "#[path] takes source from another file; a contract is one file".into(),
                        first.span(),
                    ));
                }
                scan_tokens(g.stream(), out);
            }
            _ => {}
        }
    }
}

/// The method names of the `contract! { "name" => function, ... }` table.
fn contract_table(file: &syn::File) -> Option<Vec<(String, String)>> {
    for item in &file.items {
        let syn::Item::Macro(m) = item else { continue };
        if m.mac
            .path
            .segments
            .last()
            .is_none_or(|s| s.ident != "contract")
        {
            continue;
        }
        let trees: Vec<TokenTree> = m.mac.tokens.clone().into_iter().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < trees.len() {
            if let TokenTree::Literal(lit) = &trees[i] {
                let name = lit.to_string().trim_matches('"').to_string();
                // "name" => function
                if let Some(TokenTree::Ident(f)) = trees.get(i + 3) {
                    out.push((name, f.to_string()));
                    i += 4;
                    continue;
                }
            }
            i += 1;
        }
        return Some(out);
    }
    None
}

/// Whether a range's limit is bounded: a small literal, a constant, or capped with `.min`.
fn bounded(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Lit(l) => match &l.lit {
            syn::Lit::Int(i) => i.base10_parse::<u128>().is_ok_and(|v| v <= RANGE_LIMIT),
            _ => false,
        },
        syn::Expr::Path(p) => p.path.segments.last().is_some_and(|s| {
            let n = s.ident.to_string();
            n != "MAX"
                && n.chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        }),
        syn::Expr::MethodCall(m) => m.method == "min" || bounded(&m.receiver),
        syn::Expr::Paren(p) => bounded(&p.expr),
        syn::Expr::Cast(c) => bounded(&c.expr),
        syn::Expr::Call(c) => c
            .args
            .iter()
            .any(|a| matches!(a, syn::Expr::MethodCall(m) if m.method == "min")),
        _ => false,
    }
}

/// What one method's body does.
#[derive(Default)]
struct MethodScan {
    first_write: Option<Span>,
    asks_caller: bool,
    loops: usize,
    findings: Vec<SourceFinding>,
}

impl<'ast> Visit<'ast> for MethodScan {
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let name = m.method.to_string();
        match name.as_str() {
            "put" | "put_json" | "delete" => {
                self.first_write.get_or_insert(m.method.span());
            }
            "caller" => self.asks_caller = true,
            "unwrap" | "expect" => self.findings.push(rule(
                "warning",
                "panic-in-method",
                format!(".{name}() panics on a missing value and fails the call with no message; return an Error instead"),
                m.method.span(),
            )),
            "range" | "prefix" => {
                if let Some(limit) = m.args.last()
                    && !bounded(limit)
                {
                    self.findings.push(rule(
                        "warning",
                        "unbounded-state-range",
                        format!(".{name}() with a limit that is not a constant of at most {RANGE_LIMIT} or capped with .min(..): one call may read without bound"),
                        m.method.span(),
                    ));
                }
                if self.loops > 0 {
                    self.findings.push(rule(
                        "warning",
                        "state-range-in-loop",
                        format!(".{name}() inside a loop walks state page after page without bound; read one page per call and let the caller continue"),
                        m.method.span(),
                    ));
                }
            }
            _ => {}
        }
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Some(seg) = mac.path.segments.last() {
            let name = seg.ident.to_string();
            if PANICKING_MACROS.contains(&name.as_str()) {
                self.findings.push(rule(
                    "warning",
                    "panic-in-method",
                    format!("{name}! fails the call with no message for its sender; return an Error instead"),
                    seg.ident.span(),
                ));
            }
        }
        syn::visit::visit_macro(self, mac);
    }

    fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
        self.loops += 1;
        syn::visit::visit_expr_loop(self, e);
        self.loops -= 1;
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.loops += 1;
        syn::visit::visit_expr_while(self, e);
        self.loops -= 1;
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.loops += 1;
        syn::visit::visit_expr_for_loop(self, e);
        self.loops -= 1;
    }
}

/// The contract rules on `source`: findings, the methods, and whether it may be built.
pub fn rules(source: &str) -> (Vec<SourceFinding>, Vec<String>, bool) {
    let mut out = Vec::new();
    let tokens: TokenStream = match source.parse() {
        Ok(t) => t,
        Err(e) => {
            out.push(rule(
                "error",
                "syntax",
                format!("the source does not lex: {e}"),
                e.span(),
            ));
            return (out, Vec::new(), false);
        }
    };
    scan_tokens(tokens, &mut out);
    let file = match syn::parse_file(source) {
        Ok(f) => f,
        Err(e) => {
            out.push(rule("error", "syntax", e.to_string(), e.span()));
            return (out, Vec::new(), false);
        }
    };
    for item in &file.items {
        if let syn::Item::Mod(m) = item
            && m.content.is_none()
        {
            out.push(rule(
                "error",
                "forbidden-macro",
                format!(
                    "mod {}; takes source from another file; a contract is one file",
                    m.ident
                ),
                m.ident.span(),
            ));
        }
    }
    let table = contract_table(&file);
    if table.is_none() {
        out.push(SourceFinding {
            severity: "error",
            tool: "rules",
            rule: "no-methods".into(),
            message: "the source declares no methods: add a contract! { \"name\" => function, ... } table".into(),
            line: None,
            column: None,
            location: None,
        });
    }
    // Errors so far (forbidden macros, no methods) mean nothing worth building.
    let buildable = out.iter().all(|f| f.severity != "error");
    let table = table.unwrap_or_default();
    for item in &file.items {
        let syn::Item::Fn(f) = item else { continue };
        let fname = f.sig.ident.to_string();
        let Some((method, _)) = table.iter().find(|(_, func)| *func == fname) else {
            continue;
        };
        let mut scan = MethodScan::default();
        scan.visit_block(&f.block);
        if let Some(w) = scan.first_write
            && !scan.asks_caller
        {
            out.push(rule(
                "warning",
                "state-write-without-caller-check",
                format!("method {method:?} writes state but never asks who called it (ctx.caller()): any member of the chain may change what it writes"),
                w,
            ));
        }
        out.extend(scan.findings);
    }
    let methods = table.into_iter().map(|(m, _)| m).collect();
    (out, methods, buildable)
}

fn build_dirs(p: &Platform) -> (PathBuf, PathBuf) {
    let dir = p.config().dir.join("contract-build");
    let target = std::env::var_os("COVENANT_CONTRACT_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    (dir, target)
}

/// Check a contract's source: the rules, then (if nothing forbids it) build, lint and inspect
/// the module.
pub async fn check(p: &Platform, source: &str) -> Result<SourceReport> {
    if source.trim().is_empty() {
        return Err(Error::invalid_as("SOURCE_EMPTY", "the source is empty"));
    }
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Error::invalid_as(
            "SOURCE_TOO_LARGE",
            format!("a contract's source is at most {MAX_SOURCE_BYTES} bytes"),
        ));
    }
    let (mut findings, methods, buildable) = rules(source);
    let mut report = SourceReport {
        ok: false,
        built: false,
        linted: false,
        methods,
        findings: Vec::new(),
        module: None,
        size: None,
        sha256: None,
    };
    if buildable {
        let _one = BUILDING.lock().await;
        let (dir, target) = build_dirs(p);
        let text = source.to_string();
        let job = tokio::task::spawn_blocking(move || {
            let krate = covenant_deploy::contract_build::write_source_crate(&dir, &text)
                .map_err(|e| Error::internal(format!("cannot write the contract crate: {e}")))?;
            covenant_deploy::contract_build::build_checked(&krate, Some(&target), true).map_err(
                |e| Error::unavailable(e.code(), format!("the contract could not be built: {e}")),
            )
        });
        let built = tokio::time::timeout(BUILD_TIMEOUT, job)
            .await
            .map_err(|_| {
                Error::unavailable(
                    "CONTRACT_BUILD_TIMEOUT",
                    "building and linting the contract took longer than ten minutes",
                )
            })?
            .map_err(|e| Error::internal(format!("the build task failed: {e}")))??;
        report.linted = built.linted;
        for d in &built.diagnostics {
            // Only what is about the contract's own file.
            if d.file.as_deref().is_some_and(|f| f != "src/lib.rs") {
                continue;
            }
            findings.push(SourceFinding {
                severity: if d.level == "error" {
                    "error"
                } else {
                    "warning"
                },
                tool: d.tool,
                rule: d.code.clone().unwrap_or_else(|| d.tool.to_string()),
                message: d.message.clone(),
                line: d.line,
                column: d.column,
                location: None,
            });
        }
        if let Some(wasm) = built.wasm {
            let code = std::fs::read(&wasm)
                .map_err(|e| Error::internal(format!("cannot read the built module: {e}")))?;
            report.built = true;
            let module = crate::contract::check(&code)?;
            for f in module.findings {
                findings.push(SourceFinding {
                    severity: f.severity,
                    tool: "module",
                    rule: f.rule.to_string(),
                    message: f.message,
                    line: None,
                    column: None,
                    location: f.location,
                });
            }
            report.size = Some(code.len());
            report.sha256 = Some(sha256_hex(&code));
            report.module = Some(crate::time::b64(&code));
        }
    }
    report.ok = report.built && findings.iter().all(|f| f.severity != "error");
    if !report.ok {
        report.module = None;
    }
    findings.sort_by_key(|f| (f.severity != "error", f.line.unwrap_or(u64::MAX)));
    report.findings = findings;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: &str) -> Vec<(String, Option<u64>)> {
        rules(source)
            .0
            .into_iter()
            .map(|f| (f.rule, f.line))
            .collect()
    }

    const HEAD: &str = "use covenant_contract::{Context, Error, contract};\n";

    #[test]
    fn each_rule_names_its_line() {
        let src = format!(
            "{HEAD}fn put(ctx: &mut Context, a: u32) -> Result<(), Error> {{\n    ctx.put(b\"k\", b\"v\");\n    Ok(())\n}}\n\
fn guarded(ctx: &mut Context, a: u32) -> Result<(), Error> {{\n    let who = ctx.caller();\n    ctx.put(b\"k\", b\"v\");\n    Ok(())\n}}\n\
fn scan(ctx: &mut Context, n: u32) -> Result<(), Error> {{\n    let all = ctx.range(b\"a\", b\"z\", n);\n    loop {{ ctx.prefix(b\"p\", 10); }}\n}}\n\
fn risky(ctx: &mut Context, a: u32) -> Result<u32, Error> {{\n    let v = ctx.get(b\"k\").unwrap();\n    panic!(\"no\");\n}}\n\
fn helper() {{ None::<u32>.unwrap(); }}\n\
contract! {{ \"put\" => put, \"guarded\" => guarded, \"scan\" => scan, \"risky\" => risky }}\n"
        );
        let f = found(&src);
        assert!(
            f.contains(&("state-write-without-caller-check".into(), Some(3))),
            "{f:?}"
        );
        assert_eq!(
            f.iter()
                .filter(|(r, _)| r == "state-write-without-caller-check")
                .count(),
            1,
            "the guarded method asks who called: {f:?}"
        );
        assert!(
            f.contains(&("unbounded-state-range".into(), Some(12))),
            "{f:?}"
        );
        assert!(
            f.contains(&("state-range-in-loop".into(), Some(13))),
            "{f:?}"
        );
        assert!(
            !f.contains(&("unbounded-state-range".into(), Some(13))),
            "a literal limit is bounded: {f:?}"
        );
        assert!(f.contains(&("panic-in-method".into(), Some(16))), "{f:?}");
        assert!(f.contains(&("panic-in-method".into(), Some(17))), "{f:?}");
        assert!(
            !f.iter().any(|(_, l)| *l == Some(19)),
            "helpers that are not methods are clippy's: {f:?}"
        );
        let (_, methods, buildable) = rules(&src);
        assert_eq!(methods, ["put", "guarded", "scan", "risky"]);
        assert!(buildable);
    }

    #[test]
    fn sources_that_read_the_builders_machine_are_not_built() {
        for bad in [
            "const K: &str = include_str!(\"/etc/passwd\");",
            "const K: &[u8] = include_bytes!(\"/root/.ssh/id_rsa\");",
            "const H: &str = env!(\"HOME\");",
            "#[doc = include_str!(\"x\")] fn f() {}",
            "mod other;",
            "#[path = \"/etc/x.rs\"] mod other { }",
        ] {
            let (f, _, buildable) = rules(&format!("{HEAD}{bad}\ncontract! {{}}"));
            assert!(!buildable, "{bad}");
            assert!(
                f.iter().any(|x| x.rule == "forbidden-macro"
                    && x.severity == "error"
                    && x.line == Some(2)),
                "{bad}: {f:?}"
            );
        }
        let (f, _, buildable) = rules("fn (");
        assert!(!buildable);
        assert_eq!(f[0].rule, "syntax");
    }

    #[test]
    fn limits_count_as_bounded_when_small_constant_or_capped() {
        let e = |s: &str| syn::parse_str::<syn::Expr>(s).unwrap();
        for ok in [
            "100",
            "1000",
            "LIMIT",
            "a.limit.unwrap_or(10).min(500)",
            "(n.min(50)) as u32",
        ] {
            assert!(bounded(&e(ok)), "{ok}");
        }
        for no in ["5000", "u32::MAX", "a.limit", "n"] {
            assert!(!bounded(&e(no)), "{no}");
        }
    }
}
