//! The `mmring` command-line tool: create, inspect, send to, tail and benchmark rings.
//!
//! Uses only the public API of the `mmring` library. Every failure is one line on standard
//! error (`mmring: <path>: <cause>`) and a documented exit status (see [`exit::Code`]).

#![forbid(unsafe_code)]

mod bench;
mod cli;
mod create;
mod exit;
mod format;
mod info;
mod lossy;
mod ring;
mod send;
mod tail;
mod units;

use clap::error::ErrorKind;
use clap::Parser;
use cli::{Cli, Command};
use exit::{Code, Failure};
use std::process::ExitCode;

/// Turns clap's multi-line error into one line: the cause, then where to find help.
fn usage_failure(e: &clap::Error) -> Failure {
    let rendered = e.render().to_string();
    let cause: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let cause = cause.join(" ");
    let cause = cause.strip_prefix("error: ").unwrap_or(&cause);
    Failure::new(Code::Usage, format!("{cause} (see 'mmring --help')"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        ExitCode::from(Code::Usage as u8)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                _ => usage_failure(&e).report(),
            }
        }
    };
    let outcome = match &cli.command {
        Command::Create(a) => create::run(a),
        Command::Info(a) => info::run(a),
        Command::Send(a) => send::run(a),
        Command::Tail(a) => tail::run(a),
        Command::Bench(a) => bench::run(a),
        Command::BenchPeer(a) => bench::run_peer(a),
    };
    match outcome {
        Ok(()) => ExitCode::from(Code::Ok as u8),
        Err(f) => f.report(),
    }
}
