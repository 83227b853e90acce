//! `vmafx`: the command-line front end. Each subcommand lives in [`commands`]; this file only
//! parses arguments, sets up logging and turns errors into one line and an exit status.

mod cli;
mod commands;
mod service_cli;

use std::process::ExitCode;

use clap::Parser;

/// Log directives added to the defaults: the TLS verifier logs an ERROR line for each refused
/// certificate, which the command's own one-line error already reports (with the cause).
const QUIET_TARGETS: &str = "rustls_platform_verifier=off";

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let filter = match cli.command {
        // The operator's verbosity is VMAFX_LOG_LEVEL, as in the seed; a bad value is reported
        // when its configuration is read.
        cli::Command::Operator(_) => {
            let level = std::env::var("VMAFX_LOG_LEVEL").unwrap_or_default();
            let level = match level.trim() {
                "debug" => "info,vmafx=debug,vmafx_operator=debug",
                "warn" => "warn",
                "error" => "error",
                _ => "info",
            };
            tracing_subscriber::EnvFilter::new(format!("{level},{QUIET_TARGETS}"))
        }
        _ => tracing_subscriber::EnvFilter::try_from_env("VMAFX_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("warn,{QUIET_TARGETS}"))
        }),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let message = commands::error_line(&err);
            eprintln!("vmafx: error: {message}");
            if commands::score::is_transient(&err) {
                // EX_TEMPFAIL: storage that may answer next time, worth retrying.
                ExitCode::from(75)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
