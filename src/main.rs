//! The `aku` binary: a doorway to [`aku::run`].

fn main() {
    let code = aku::run(std::env::args_os());
    // Exit without waiting for threads stuck on a silent peer (their work is abandoned).
    std::process::exit(code);
}
