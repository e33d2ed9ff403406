//! A secret cannot hide inside a serde value: it is not `Serialize`.
use tanto::prelude::*;

#[derive(serde::Serialize, serde::Deserialize)]
struct Login {
    user: String,
    token: Secret,
}

fn main() {}
