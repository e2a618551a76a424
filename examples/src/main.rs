//! `tandem`: the Tandem reference stack and its command-line tools.

fn main() {}
