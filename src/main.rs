//! The `bisik` binary: parse the command line, run, and turn the outcome into an exit code.
#![forbid(unsafe_code)]

/// Every heap block is zeroed when it is freed (or moved by a realloc), so a code, a key or a
/// tip's text does not survive its request in freed heap memory (I3). The unsafe code lives in
/// `zeroizing-alloc`; declaring the allocator here is safe code.
#[global_allocator]
static ALLOC: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> std::process::ExitCode {
    bisik::cli::main()
}
