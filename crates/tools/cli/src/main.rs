//! `covenant`: the command line of the Covenant consortium-blockchain platform.

#![forbid(unsafe_code)]

mod ca;
mod contract;
mod failure;
mod ledger;
mod local_platform;
mod node;
mod node_archive;
mod node_bundle;
mod node_export;
mod output;
mod platform;
mod proof;
mod proposal;
mod session;
mod sim;
mod up;

use std::{io::Write as _, process::ExitCode};

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::output::Format;

/// Exit status when a command fails.
const EXIT_FAILURE: u8 = 1;
/// Exit status when the command line itself is wrong.
const EXIT_USAGE: u8 = 2;
/// Exit status when a checked object is rejected (e.g. `ca verify` on a revoked certificate).
pub const EXIT_REJECTED: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "covenant",
    version,
    about = "Covenant: consortium blockchains for organisations that need to agree",
    long_about = "Covenant is a consortium-blockchain platform. Organisations run their own \
certificate authorities, build networks of nodes and chains, admit members by vote, and deploy \
smart contracts, with the national (SM2/SM3/SM4) or international (ECDSA P-256, Ed25519, \
SHA-256, AES-GCM) algorithm suites.",
    after_help = "Every command takes --output json for scripts. Errors print one line with a \
stable code, e.g. `error[CA_EXISTS]: ...`.\n\nExit status: 0 success, 1 failure, 2 usage error, \
3 rejected (a certificate or a proof that does not verify).\n\nStart with:\n  covenant up            (a local 4-org consortium; covenant down stops it)\n  \
covenant node init --dir dev && covenant node start --dir dev\n  covenant ca init --org Org1 \
--suite sm --dir ./org1-ca"
)]
struct Cli {
    /// Output format: human-readable text or JSON.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text, env = "COVENANT_OUTPUT")]
    output: Format,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // About text from `up::UpArgs` (its long form explains the layout).
    Up(up::UpArgs),
    // About text from `up::StatusArgs`.
    Status(up::StatusArgs),
    // About text from `up::DownArgs`.
    Down(up::DownArgs),
    /// Run an org's certificate authority: issue, sign, revoke and verify certificates.
    Ca(ca::CaCommand),
    /// Create, run and repair a node.
    Node(node::NodeCommand),
    /// Build, deploy, govern, invoke and query smart contracts.
    Contract(contract::ContractCommand),
    /// Read committed transactions with their proofs.
    Tx(ledger::TxCommand),
    /// Read blocks.
    Block(ledger::BlockCommand),
    /// Chain info, config and genesis block.
    Chain(ledger::ChainCommand),
    /// Export a transaction's self-contained proof; verify one offline against the genesis.
    Proof(proof::ProofCommand),
    /// Governed changes signed by several orgs' admins.
    Proposal(proposal::ProposalCommand),
    // About text from `platform::PlatformCommand`.
    Platform(platform::PlatformCommand),
    // About text from `covenant_bench::BenchCommand` (its long form explains what is measured).
    Bench(covenant_bench::BenchCommand),
    // About text from `sim::SimCommand`.
    Sim(sim::SimCommand),
}

/// Whether the raw arguments ask for JSON, for errors raised before parsing succeeds.
fn wants_json(args: &[String]) -> bool {
    if std::env::var("COVENANT_OUTPUT").is_ok_and(|v| v == "json") {
        return true;
    }
    args.windows(2)
        .any(|w| (w[0] == "--output" || w[0] == "-o") && w[1] == "json")
        || args.iter().any(|a| a == "--output=json" || a == "-ojson")
}

fn print_error(format: Format, code: &str, message: &str) {
    // Nothing to do if the reader went away (a closed pipe).
    let _ = match format {
        Format::Json => writeln!(
            std::io::stdout(),
            "{}",
            json!({ "error": { "code": code, "message": message } })
        ),
        Format::Text => writeln!(std::io::stderr(), "error[{code}]: {message}"),
    };
}

/// `covenant bench`: run it, print its report; exit 1 if the run found a fault.
fn bench(cmd: covenant_bench::BenchCommand, format: Format) -> anyhow::Result<u8> {
    let outcome = covenant_bench::run(cmd)?;
    output::emit(format, &outcome, || outcome.text())?;
    Ok(u8::from(outcome.failed()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(EXIT_USAGE)
                } else {
                    ExitCode::SUCCESS
                };
            }
            let format = if wants_json(&args) {
                Format::Json
            } else {
                Format::Text
            };
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_string();
            match format {
                Format::Json => print_error(format, "USAGE", &first),
                Format::Text => {
                    let _ = write!(
                        std::io::stderr(),
                        "{}",
                        rendered.replacen("error:", "error[USAGE]:", 1)
                    );
                }
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let format = cli.output;
    let result = match cli.command {
        Command::Up(a) => up::up(a, format),
        Command::Status(a) => up::status(a, format),
        Command::Down(a) => up::down(a, format),
        Command::Ca(cmd) => ca::run(cmd, format),
        Command::Bench(cmd) => bench(cmd, format),
        Command::Node(cmd) => node::run(cmd, format),
        Command::Contract(cmd) => contract::run(cmd, format),
        Command::Tx(cmd) => ledger::tx(cmd, format),
        Command::Block(cmd) => ledger::block(cmd, format),
        Command::Chain(cmd) => ledger::chain(cmd, format),
        Command::Proof(cmd) => proof::run(cmd, format),
        Command::Proposal(cmd) => proposal::run(cmd, format),
        Command::Platform(cmd) => platform::run(cmd, format),
        Command::Sim(cmd) => sim::run_cmd(cmd, format),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            print_error(format, &failure::code_of(&err), &failure::one_line(&err));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and every argument explains itself in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && cmd.get_long_about().is_none() {
                missing.push(format!("{here}: the command has no about text"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{here}: argument {id} has no help"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
