//! The `taskifai` binary: the data engineer's CLI over the engine and the lake, the HTTP API
//! (`serve`) and the load workers (`worker`).
//!
//! Exit codes: 0 success, 1 failure, 2 usage error, 3 success with rejected rows.

mod cli;

// Many small allocations from many threads (cell text, Arrow builders, request handling);
// glibc's allocator serializes them on arena locks, mimalloc does not. The meter counts what a
// spec's hook holds, so a hook cannot take the worker's memory.
#[global_allocator]
static GLOBAL: taskifai_meter::Metered<mimalloc::MiMalloc> =
    taskifai_meter::Metered(mimalloc::MiMalloc);

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `taskifai query ... | head`: a closed stdout ends the program quietly, as it does any
    // Unix tool, instead of a panic message (Rust ignores SIGPIPE and println! panics).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = taskifai_api::server::panic_message(info.payload());
        if text.contains("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let argv: Vec<String> = std::env::args().collect();
    if let Err(e) = cli::config_file::apply(&argv) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let args = cli::Cli::parse();
    if matches!(args.command, cli::Command::Worker { .. }) {
        // Before the runtime starts its threads, which inherit it.
        taskifai_api::worker::lower_priority();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
