//! The `prod-lens` binary: parse the command line and dispatch. All work happens in the library.

mod alloc;
mod cli;
mod commands;

use clap::Parser;

fn main() {
    alloc::tune();
    // Behave like other Unix tools when stdout is closed early (`prod-lens status | head`): end
    // quietly instead of panicking on a broken pipe. Sockets are unaffected (std and the HTTP
    // crates write to them with MSG_NOSIGNAL).
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
