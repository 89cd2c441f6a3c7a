//! Text or JSON on standard output.

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
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Format::Text => {
            let t = text();
            if t.ends_with('\n') {
                print!("{t}");
            } else {
                println!("{t}");
            }
        }
    }
    Ok(())
}
