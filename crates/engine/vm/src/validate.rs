//! Install-time checks of a module beyond what the engine's validator enforces (which already
//! rejects floating-point instructions with the engine's `floats(false)`).

use wasmi::{ExternType, Module};

use crate::{ExecError, host_api::IMPORTS};

/// What a valid module declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Host functions it imports.
    pub imports: Vec<String>,
    /// Its exported functions.
    pub exports: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> ExecError {
    ExecError::Invalid(msg.into())
}

pub(crate) fn check(module: &Module) -> Result<ModuleInfo, ExecError> {
    let mut imports = Vec::new();
    for import in module.imports() {
        if import.module() != "covenant" {
            return Err(invalid(format!(
                "import {}.{} is not allowed: contracts may import only the `covenant` host API",
                import.module(),
                import.name()
            )));
        }
        let ExternType::Func(ty) = import.ty() else {
            return Err(invalid(format!(
                "import covenant.{} must be a function",
                import.name()
            )));
        };
        let Some((_, params, results)) = IMPORTS.iter().find(|(n, _, _)| *n == import.name())
        else {
            return Err(invalid(format!(
                "unknown host function covenant.{}",
                import.name()
            )));
        };
        if ty.params() != *params || ty.results() != *results {
            return Err(invalid(format!(
                "host function covenant.{} has the wrong signature",
                import.name()
            )));
        }
        imports.push(import.name().to_string());
    }
    let mut exports = Vec::new();
    let mut has_memory = false;
    let mut has_call = false;
    for export in module.exports() {
        match export.ty() {
            ExternType::Memory(_) if export.name() == "memory" => has_memory = true,
            ExternType::Func(ty) => {
                if export.name() == "call" {
                    if !ty.params().is_empty() || !ty.results().is_empty() {
                        return Err(invalid("export `call` must take and return nothing"));
                    }
                    has_call = true;
                }
                exports.push(export.name().to_string());
            }
            _ => {}
        }
    }
    if !has_memory {
        return Err(invalid("the module must export its memory as `memory`"));
    }
    if !has_call {
        return Err(invalid(
            "the module must export `call` (declare methods with covenant_contract::contract!)",
        ));
    }
    Ok(ModuleInfo { imports, exports })
}
