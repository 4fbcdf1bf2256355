//! The module dependency graph of `src/` (production code: comments and test
//! files skipped), read from the `crate::` paths of each top-level module: no
//! cycle, `odbc` and `config` are leaves, the engine (`lifecycle`) never names a
//! backend or the connector.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn modules() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.extension().is_none_or(|e| e != "rs") || name.ends_with("_tests.rs") || name == "tests.rs" {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let module = rel.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap();
            let deps = graph.entry(module.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    for target in targets(&line[i + 7..]) {
                        if target != module && target != "emit" {
                            deps.insert(target);
                        }
                    }
                }
            }
        }
    }
    graph
}

/// The top-level modules a path after `crate::` names: one (`backend::x`), or each
/// of a group (`{exit_code, help, lifecycle::x}`).
fn targets(rest: &str) -> Vec<String> {
    let ident = |t: &str| t.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    match rest.strip_prefix('{') {
        Some(group) => {
            let inner = group.split('}').next().unwrap_or("");
            inner.split(',').map(ident).filter(|t| !t.is_empty()).collect()
        }
        None => vec![ident(rest)],
    }
}

fn visit(n: &str, graph: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
    if let Some(i) = path.iter().position(|p| p == n) {
        panic!("cycle: {} -> {n}", path[i..].join(" -> "));
    }
    if !done.insert(n.to_owned()) {
        return;
    }
    path.push(n.to_owned());
    for m in graph.get(n).into_iter().flatten() {
        visit(m, graph, path, done);
    }
    path.pop();
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = modules();
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn sessions_and_configuration_are_leaves_and_the_engine_names_no_backend() {
    let graph = modules();
    let deps = |m: &str| graph.get(m).cloned().unwrap_or_default();
    assert!(deps("odbc").is_empty(), "odbc depends on {:?}", deps("odbc"));
    assert!(deps("config").is_empty(), "config depends on {:?}", deps("config"));
    for forbidden in ["backend", "connect", "run", "status", "cli"] {
        assert!(!deps("lifecycle").contains(forbidden), "lifecycle names {forbidden}");
    }
}
