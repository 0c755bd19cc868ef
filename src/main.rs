//! The `matrix` binary: everything lives in the library; see `cli::main`.

fn main() -> std::process::ExitCode {
    matrix::cli::main()
}
