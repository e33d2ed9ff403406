//! Compile-pass and compile-fail cases of `#[step]` and `#[pipeline]`: one diagnostic per file,
//! each pinned in a `.stderr` beside it. Bless with `TRYBUILD=overwrite cargo test -p ui-tests`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
