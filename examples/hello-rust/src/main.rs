//! hello: prints a greeting with the version matrix builds into it.

/// Set at build time by matrix (`HELLO_VERSION`), "dev" otherwise.
const VERSION: &str = match option_env!("HELLO_VERSION") {
    Some(v) => v,
    None => "dev",
};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("{VERSION}");
        return;
    }
    println!("hello {VERSION} ({}/{})", std::env::consts::OS, std::env::consts::ARCH);
}
