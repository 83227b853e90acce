//! One module per subcommand.

pub mod demo;
pub mod job;
pub mod mcp;
pub mod model;
pub mod operator;
pub mod score;
pub mod service;
pub mod trainer;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Score(args) => score::run(*args),
        Command::Demo(args) => demo::run(args),
        Command::Controller(args) => service::run_controller(*args),
        Command::Node(args) => service::run_node(*args),
        Command::Serve(args) => service::run_serve(*args),
        Command::Job(args) => job::run(args),
        Command::Nodes(args) => job::run_nodes(args),
        Command::Model(args) => model::run(args),
        Command::Trainer(args) => trainer::run(*args),
        Command::Mcp(args) => mcp::run(*args),
        Command::Operator(_) => operator::run_operator(),
        Command::Crd(args) => operator::run_crd(args),
    }
}

/// An error as the one line vmafx prints, naming the file or field: the chain joined with ": ".
pub fn error_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}
