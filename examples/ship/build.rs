//! Keys each step by the code it uses in this crate, not by its own tokens alone.

fn main() {
    tanto_build::digests();
}
