//! A contract module at install: validated as the chain does before it takes one, and
//! inspected as the source and module checks do.
#![no_main]

use std::sync::OnceLock;

use covenant_vm::Vm;
use libfuzzer_sys::fuzz_target;

fn vm() -> &'static Vm {
    static VM: OnceLock<Vm> = OnceLock::new();
    VM.get_or_init(|| Vm::new().expect("the default VM"))
}

fuzz_target!(|data: &[u8]| {
    let _ = vm().validate(data);
    let _ = vm().inspect(data);
});
