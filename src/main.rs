//! The `bisik` binary: parse the command line, run, and turn the outcome into an exit code.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    bisik::cli::main()
}
