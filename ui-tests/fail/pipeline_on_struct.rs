use tanto::pipeline;

#[pipeline]
struct Ci;

fn main() {}
