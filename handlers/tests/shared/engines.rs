//! Which real engines a test run has, shared by every test binary that uses them.

/// The engine's URL from the environment, or `None` after saying why the test is skipped.
/// With `PIESHOP_REQUIRE_ALL` set (as CI sets it), a missing engine fails the test instead.
pub fn engine(variable: &str) -> Option<String> {
    match std::env::var(variable).ok().filter(|v| !v.is_empty()) {
        Some(url) => Some(url),
        None if std::env::var_os("PIESHOP_REQUIRE_ALL").is_some() => {
            panic!("{variable} is not set and PIESHOP_REQUIRE_ALL is: start the engines with .ci/engines.sh")
        }
        None => {
            eprintln!("SKIPPED: {variable} is not set (start the engines with .ci/engines.sh start)");
            None
        }
    }
}
