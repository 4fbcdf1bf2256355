//! The `aku` binary: a doorway to the library. Placeholder on the `config`
//! branch so that the crate builds; the real doorway (`aku::run`) lives on main.

fn main() {}
