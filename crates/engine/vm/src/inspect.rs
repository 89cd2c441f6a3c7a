//! Checks of a module before anyone votes on installing it: every finding at once, each with a
//! severity, the rule it breaks and where (the function and byte offset), rather than the
//! first reason the engine would refuse it.
//!
//! Rules: the module decodes; it imports only functions of the `covenant` host API with their
//! signatures; it uses no floating point, SIMD or threads (non-deterministic or unsupported
//! across nodes); its memory and tables stay within the VM's limits; it exports `memory` and
//! `call`; it has no start function; and the engine itself accepts it.

use std::collections::HashMap;

use wasmparser::{
    CompositeInnerType, ExternalKind, Name, NameSectionReader, Parser, Payload, TypeRef, ValType,
};

use crate::{Vm, host_api::IMPORTS};

/// How much a finding matters: an `Error` blocks installing the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The rule, a stable code such as `float` or `import-outside-host-api`.
    pub rule: &'static str,
    pub message: String,
    /// Where: a function (by name when the module carries names) and a byte offset.
    pub location: Option<String>,
}

/// What the checks found and what the module declares.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    pub size: usize,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub functions: usize,
    pub findings: Vec<Finding>,
}

impl Inspection {
    /// Whether nothing blocks installing it.
    pub fn ok(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

fn wasmi_type(t: &wasmi::ValType) -> &'static str {
    match t {
        wasmi::ValType::I32 => "i32",
        wasmi::ValType::I64 => "i64",
        wasmi::ValType::F32 => "f32",
        wasmi::ValType::F64 => "f64",
        _ => "other",
    }
}

fn parser_type(t: &ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        _ => "other",
    }
}

/// The class of an instruction the rules forbid, from its name.
fn forbidden(op: &str) -> Option<(&'static str, &'static str)> {
    if op.contains("Atomic") || op == "MemoryAtomicNotify" {
        Some(("threads", "atomic (threads) instructions"))
    } else if op.starts_with("V128")
        || op.starts_with("I8x16")
        || op.starts_with("I16x8")
        || op.starts_with("I32x4")
        || op.starts_with("I64x2")
        || op.starts_with("F32x4")
        || op.starts_with("F64x2")
    {
        Some(("simd", "SIMD instructions"))
    } else if op.starts_with("F32")
        || op.starts_with("F64")
        || op.contains("F32")
        || op.contains("F64")
    {
        Some(("float", "floating-point instructions"))
    } else {
        None
    }
}

const PAGE: u64 = 65_536;
const MAX_TABLE: u64 = 100_000;

impl Vm {
    /// Inspect `code` against every rule; never fails (a module that does not decode is a
    /// finding).
    pub fn inspect(&self, code: &[u8]) -> Inspection {
        let mut out = Inspection {
            size: code.len(),
            ..Inspection::default()
        };
        let limits = self.limits();
        let find = |out: &mut Inspection,
                    severity: Severity,
                    rule: &'static str,
                    message: String,
                    location: Option<String>| {
            out.findings.push(Finding {
                severity,
                rule,
                message,
                location,
            });
        };
        if code.len() > limits.max_code_bytes {
            find(
                &mut out,
                Severity::Error,
                "size",
                format!(
                    "the module is {} bytes, over the limit of {}",
                    code.len(),
                    limits.max_code_bytes
                ),
                None,
            );
        }
        let mut types: Vec<Option<(Vec<ValType>, Vec<ValType>)>> = Vec::new();
        let mut imported_functions = 0u32;
        let mut names: HashMap<u32, String> = HashMap::new();
        let mut bodies: Vec<(u32, Vec<(usize, String)>)> = Vec::new();
        let mut has_memory_export = false;
        let mut has_call = false;
        let mut local_index = 0u32;
        for payload in Parser::new(0).parse_all(code) {
            let payload = match payload {
                Ok(p) => p,
                Err(e) => {
                    find(
                        &mut out,
                        Severity::Error,
                        "decode",
                        format!("the module does not decode: {}", e.message()),
                        Some(format!("byte {:#x}", e.offset())),
                    );
                    return out;
                }
            };
            let r: Result<(), wasmparser::BinaryReaderError> = (|| {
                match payload {
                    Payload::TypeSection(reader) => {
                        for group in reader {
                            for sub in group?.into_types() {
                                types.push(match &sub.composite_type.inner {
                                    CompositeInnerType::Func(f) => {
                                        Some((f.params().to_vec(), f.results().to_vec()))
                                    }
                                    _ => None,
                                });
                            }
                        }
                    }
                    Payload::ImportSection(reader) => {
                        for import in reader {
                            let import = import?;
                            let what = format!("{}.{}", import.module, import.name);
                            // Imported functions come first in the function index space.
                            if matches!(import.ty, TypeRef::Func(_)) {
                                imported_functions += 1;
                            }
                            if import.module != "covenant" {
                                find(
                                    &mut out,
                                    Severity::Error,
                                    "import-outside-host-api",
                                    format!(
                                        "import {what} is not the covenant host API: contracts may import only covenant.* functions"
                                    ),
                                    Some(format!("import {what}")),
                                );
                                continue;
                            }
                            let TypeRef::Func(ty) = import.ty else {
                                find(
                                    &mut out,
                                    Severity::Error,
                                    "import-outside-host-api",
                                    format!("import {what} must be a function"),
                                    Some(format!("import {what}")),
                                );
                                continue;
                            };
                            match IMPORTS.iter().find(|(n, _, _)| *n == import.name) {
                                None => find(
                                    &mut out,
                                    Severity::Error,
                                    "import-outside-host-api",
                                    format!("covenant.{} is not a host function", import.name),
                                    Some(format!("import {what}")),
                                ),
                                Some((_, params, results)) => {
                                    let want: (Vec<&str>, Vec<&str>) = (
                                        params.iter().map(wasmi_type).collect(),
                                        results.iter().map(wasmi_type).collect(),
                                    );
                                    let got =
                                        types.get(ty as usize).cloned().flatten().map(|(p, r)| {
                                            (
                                                p.iter().map(parser_type).collect::<Vec<_>>(),
                                                r.iter().map(parser_type).collect::<Vec<_>>(),
                                            )
                                        });
                                    if got.as_ref() != Some(&want) {
                                        find(
                                            &mut out,
                                            Severity::Error,
                                            "import-signature",
                                            format!(
                                                "covenant.{} is imported as {:?}, but the host function is {:?}",
                                                import.name, got, want
                                            ),
                                            Some(format!("import {what}")),
                                        );
                                    } else {
                                        out.imports.push(import.name.to_string());
                                    }
                                }
                            }
                        }
                    }
                    Payload::TableSection(reader) => {
                        for (i, t) in reader.into_iter().enumerate() {
                            let t = t?;
                            if t.ty.initial > MAX_TABLE {
                                find(
                                    &mut out,
                                    Severity::Error,
                                    "table",
                                    format!(
                                        "table {i} starts with {} entries, over {MAX_TABLE}",
                                        t.ty.initial
                                    ),
                                    Some(format!("table {i}")),
                                );
                            }
                        }
                    }
                    Payload::MemorySection(reader) => {
                        let max_pages = limits.max_memory_bytes as u64 / PAGE;
                        for (i, m) in reader.into_iter().enumerate() {
                            let m = m?;
                            if m.shared || m.memory64 {
                                find(
                                    &mut out,
                                    Severity::Error,
                                    "threads",
                                    format!(
                                        "memory {i} is {}: not supported",
                                        if m.shared { "shared" } else { "64-bit" }
                                    ),
                                    Some(format!("memory {i}")),
                                );
                            }
                            if m.initial > max_pages {
                                find(
                                    &mut out,
                                    Severity::Error,
                                    "memory",
                                    format!(
                                        "memory {i} starts at {} pages ({} bytes), over the VM's limit of {} bytes",
                                        m.initial,
                                        m.initial.saturating_mul(PAGE),
                                        limits.max_memory_bytes
                                    ),
                                    Some(format!("memory {i}")),
                                );
                            }
                            match m.maximum {
                                None => find(
                                    &mut out,
                                    Severity::Warning,
                                    "memory",
                                    format!(
                                        "memory {i} has no maximum: a call that grows it past {} bytes traps",
                                        limits.max_memory_bytes
                                    ),
                                    Some(format!("memory {i}")),
                                ),
                                Some(max) if max > max_pages => find(
                                    &mut out,
                                    Severity::Warning,
                                    "memory",
                                    format!(
                                        "memory {i} may grow to {max} pages, past the VM's limit of {max_pages}: a call that does traps"
                                    ),
                                    Some(format!("memory {i}")),
                                ),
                                _ => {}
                            }
                        }
                    }
                    Payload::ExportSection(reader) => {
                        for e in reader {
                            let e = e?;
                            match e.kind {
                                ExternalKind::Memory if e.name == "memory" => {
                                    has_memory_export = true
                                }
                                ExternalKind::Func => {
                                    if e.name == "call" {
                                        has_call = true;
                                    }
                                    names.entry(e.index).or_insert_with(|| e.name.to_string());
                                    out.exports.push(e.name.to_string());
                                }
                                _ => {}
                            }
                        }
                    }
                    Payload::StartSection { func, .. } => {
                        find(
                            &mut out,
                            Severity::Warning,
                            "start-function",
                            format!(
                                "function {func} runs at every instantiation (a start function): every call pays for it"
                            ),
                            Some(format!("function {func}")),
                        );
                    }
                    Payload::CodeSectionEntry(body) => {
                        let index = imported_functions + local_index;
                        local_index += 1;
                        let mut bad = Vec::new();
                        let mut reader = body.get_operators_reader()?;
                        while !reader.eof() {
                            let at = reader.original_position();
                            let op = reader.read()?;
                            let text = format!("{op:?}");
                            let name = text
                                .split([' ', '{', '('])
                                .next()
                                .unwrap_or_default()
                                .to_string();
                            if forbidden(&name).is_some() {
                                bad.push((at, name));
                            }
                        }
                        if !bad.is_empty() {
                            bodies.push((index, bad));
                        }
                    }
                    Payload::CustomSection(c) if c.name() == "name" => {
                        let reader = NameSectionReader::new(wasmparser::BinaryReader::new(
                            c.data(),
                            c.data_offset(),
                        ));
                        for n in reader.into_iter().flatten() {
                            if let Name::Function(map) = n {
                                for naming in map.into_iter().flatten() {
                                    names.insert(naming.index, naming.name.to_string());
                                }
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            })();
            if let Err(e) = r {
                find(
                    &mut out,
                    Severity::Error,
                    "decode",
                    format!("the module does not decode: {}", e.message()),
                    Some(format!("byte {:#x}", e.offset())),
                );
                return out;
            }
        }
        out.functions = local_index as usize;
        for (index, bad) in bodies {
            let mut by_class: Vec<(&'static str, &'static str, usize, usize, String)> = Vec::new();
            for (at, name) in &bad {
                if let Some((rule, what)) = forbidden(name) {
                    match by_class.iter_mut().find(|c| c.0 == rule) {
                        Some(c) => c.3 += 1,
                        None => by_class.push((rule, what, *at, 1, name.clone())),
                    }
                }
            }
            let func = match names.get(&index) {
                Some(n) => format!("function `{n}` (#{index})"),
                None => format!("function #{index}"),
            };
            for (rule, what, at, count, first) in by_class {
                find(
                    &mut out,
                    Severity::Error,
                    rule,
                    format!(
                        "{func} uses {what} ({count}, the first {first}): results could differ between nodes"
                    ),
                    Some(format!("{func} at byte {at:#x}")),
                );
            }
        }
        if !has_memory_export {
            find(
                &mut out,
                Severity::Error,
                "exports",
                "the module must export its memory as `memory`".into(),
                None,
            );
        }
        if !has_call {
            find(
                &mut out,
                Severity::Error,
                "exports",
                "the module must export `call` (declare methods with covenant_contract::contract!)"
                    .into(),
                None,
            );
        }
        // What the engine itself says: nothing it refuses may pass as checked.
        if out.ok()
            && let Err(e) = self.validate(code)
        {
            find(
                &mut out,
                Severity::Error,
                "engine",
                format!("the engine refuses the module: {e}"),
                None,
            );
        }
        out.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        out
    }
}
