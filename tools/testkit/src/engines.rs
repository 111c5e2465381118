//! Which real engines a test run has, and what a test does when one is missing.

/// Says why the test is skipped (a `SKIPPED:` line), or, with `PIESHOP_REQUIRE_ALL` set (as CI sets it), fails it:
/// a run that must cover everything cannot pass by skipping.
pub fn skip(missing: &str, remedy: &str) {
    if std::env::var_os("PIESHOP_REQUIRE_ALL").is_some() {
        panic!("{missing} and PIESHOP_REQUIRE_ALL is set: {remedy}");
    }
    eprintln!("SKIPPED: {missing} ({remedy})");
}

/// The engine's URL from the environment, or `None` after [`skip`] said why the test is skipped.
pub fn engine(variable: &str) -> Option<String> {
    let url = std::env::var(variable).ok().filter(|v| !v.is_empty());
    if url.is_none() {
        skip(&format!("{variable} is not set"), "start the engines with .ci/engines.sh start");
    }
    url
}
