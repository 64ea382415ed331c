//! `kasa-terminal`: the terminal crate's command lines as a process of their
//! own, without the desktop shell, so that tests (and a technician) can run an
//! emulator and a driver as separate processes and kill either:
//!
//! ```text
//! kasa-terminal emulate --protocol bpos1 --tcp 127.0.0.1:0 --state books.json
//! kasa-terminal --protocol bpos1-bridge --tcp 127.0.0.1:40123 purchase 1500
//! ```
//!
//! `emulate ...` is `kasa emulate terminal ...`; anything else is `kasa terminal ...`.

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let code = if args.first().map(String::as_str) == Some("emulate") {
        args.remove(0);
        terminal::cli::emulate(args).await
    } else {
        terminal::cli::main(args).await
    };
    std::process::exit(code);
}
