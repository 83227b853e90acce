//! One module per subcommand.

pub mod demo;
pub mod score;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Score(args) => score::run(*args),
        Command::Demo(args) => demo::run(args),
    }
}
