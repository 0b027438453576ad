//! `aisloader`: load generator and benchmark for aisnode and AIStore clusters.
//! Exit status: 0 on a clean run, 2 when any request failed, 1 on a usage or setup error.

use clap::Parser;

use aisnode::loader::{self, LoaderArgs};

// The same allocator as aisnode, so the load generator is not the slower side.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = LoaderArgs::parse();
    let json = args.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aisloader: {e}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(loader::run(args)) {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report.summaries).unwrap_or_default()
                );
            } else {
                print!("{}", loader::stats::final_table(&report.summaries));
            }
            std::process::exit(if report.errors > 0 { 2 } else { 0 });
        }
        Err(e) => {
            eprintln!("aisloader: {e}");
            std::process::exit(1);
        }
    }
}
