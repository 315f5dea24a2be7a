//! gfn_test: the host client of gfn_to_pfn.  Sends guest physical
//! addresses to `/proc/gfn_to_pfn` and prints the module's reply, as the
//! seed's client did (`Kernel reply: ...`), or as JSON.

mod args;

use clap::Parser;
use gfn_client::json::JsonReply;
use gfn_client::{query, requests, Reply};
use std::io::Read;
use std::process::ExitCode;

fn run(cli: &args::Cli) -> Result<bool, String> {
    let mut plan = args::plan(cli)?;
    if plan.stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("stdin: {e}"))?;
        plan.addrs = args::addrs_in(&text)?;
        if plan.addrs.is_empty() {
            return Err("no addresses given (see --help)".into());
        }
    }
    let mut all_ok = true;
    for request in requests(&plan.addrs, plan.pid) {
        for reply in query(&request).map_err(|e| e.to_string())? {
            all_ok &= matches!(reply, Reply::Ok(_));
            if cli.json {
                let v =
                    serde_json::to_string(&JsonReply::from(&reply)).map_err(|e| e.to_string())?;
                println!("{v}");
            } else {
                println!("Kernel reply: {reply}");
            }
        }
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gfn_test: {e}");
            ExitCode::from(2)
        }
    }
}
