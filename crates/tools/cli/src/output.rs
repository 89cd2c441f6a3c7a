//! Text or JSON on standard output. A reader that goes away (`covenant ... | head -3`) ends
//! the output quietly: a closed pipe is not an error of the command.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document per command, for scripts.
    Json,
}

/// Print `value` as JSON, or `text()` in text mode.
pub fn emit<T: Serialize>(
    format: Format,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    let mut t = match format {
        Format::Json => serde_json::to_string_pretty(value)?,
        Format::Text => text(),
    };
    if !t.ends_with('\n') {
        t.push('\n');
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(t.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
