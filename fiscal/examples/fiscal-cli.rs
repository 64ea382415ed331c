//! Runs the fiscal CLI without the desktop shell:
//! `cargo run -p fiscal --example fiscal-cli -- emulate --pty` stands for
//! `kasa emulate fiscal --pty`, and `... -- decode 01 25 ...` for
//! `kasa fiscal decode 01 25 ...`.

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let code = if args.first().map(String::as_str) == Some("emulate") {
        args.remove(0);
        fiscal::cli::emulate(args).await
    } else {
        fiscal::cli::main(args).await
    };
    std::process::exit(code);
}
