//! The `kasa` binary: the desktop window by default, and the command line
//! (`kasa serve`, `kasa emulate ...`, `kasa fiscal ...`, `kasa terminal ...`).
#![cfg_attr(all(not(debug_assertions), windows), windows_subsystem = "windows")]

mod cli;
mod commands;
mod desktop;
mod logging;

fn main() {
    std::process::exit(cli::run());
}
