//! The `rathaus` command: server, demo and the operator's tools.

mod cli;
mod logging;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
