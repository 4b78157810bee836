//! The `prod-lens` binary: parse the command line and dispatch. All work happens in the library.

mod cli;
mod commands;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    commands::init_logging(cli.verbose);
    let code = match commands::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            commands::exit_code(&e)
        }
    };
    std::process::exit(code);
}
