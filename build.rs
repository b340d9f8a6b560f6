//! Sets `bisik_no_postgres` when `BISIK_TEST_BACKENDS` leaves PostgreSQL out, so the
//! integration tests mark their PostgreSQL halves `#[ignore]` and libtest reports them as
//! ignored rather than passed (libtest has no run-time skip).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=BISIK_TEST_BACKENDS");
    println!("cargo::rustc-check-cfg=cfg(bisik_no_postgres)");
    if let Ok(list) = std::env::var("BISIK_TEST_BACKENDS")
        && !list.split(',').any(|b| b.trim() == "postgres")
    {
        println!("cargo::rustc-cfg=bisik_no_postgres");
    }
}
