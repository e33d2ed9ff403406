use tanto::step;

#[step]
struct Build;

fn main() {}
