//! The layer map of `src/`, checked: every module imports only modules of a lower layer,
//! so no import circle can form between folders, and the proxy never reaches into the
//! target's front ends or services. A new top-level module fails this test until it is
//! given a layer in [`LAYERS`]. Code under `#[cfg(test)]` and comments are not read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// From the bottom up. A module may import only modules of a lower layer.
const LAYERS: &[&[&str]] = &[
    // Pure helpers and leaves.
    &[
        "disk",
        "hrw",
        "names",
        "range",
        "metrics",
        "tar_writer",
        "jobs",
        "dates",
        "erasure",
        "node_log",
    ],
    // Mountpaths, archives, name templates.
    &["fs", "archive", "template"],
    // The object store and the cluster map.
    &["store", "cluster"],
    // HTTP plumbing (serving, clients, forwarding).
    &["http"],
    // Tokens.
    &["auth"],
    // The S3 dialect: typed operations, SigV4, XML, the bucket operations both nodes serve.
    &["s3"],
    // Who a client is; the configuration of every node.
    &["client_auth", "config"],
    // AIStore's dialect: messages, specs, listing pages, the error map.
    &["wire"],
    // The target's services, below both of its front ends.
    &["service"],
    // Front ends: the target's native and S3 APIs, the proxy, the load generator.
    &["native_api", "s3_api", "intra_api", "proxy", "loader"],
    // Node wiring.
    &["target_node", "local_cluster"],
    // Binaries.
    &["bin"],
];

/// Modules the proxy must never import: the target's front ends and services.
const TARGET_ONLY: &[&str] = &[
    "native_api",
    "s3_api",
    "intra_api",
    "service",
    "target_node",
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/proxy/buckets.rs` -> `proxy`; `src/names.rs` -> `names`; `src/bin/*` -> `bin`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if rel.components().count() == 1 {
        return first.strip_suffix(".rs").map(str::to_string);
    }
    Some(first.to_string())
}

/// The top-level modules `text` names through `crate::` (or `aisnode::` in binaries),
/// outside comments and the test module at the end of a file.
fn imports(text: &str, crate_name: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let prefix = format!("{crate_name}::");
    for (at, _) in code.match_indices(&prefix) {
        // `super::crate::`-like false starts: the prefix must begin a path.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c}`: the first segment of each path in the group.
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

/// Every (importer, imported) pair of modules, with one file that shows it.
fn module_imports() -> BTreeMap<(String, String), PathBuf> {
    // LAYERS_SRC: another tree to judge (e.g. an older commit's, to see this test fail).
    let src = std::env::var_os("LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut pairs = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(&src, &file) else {
            continue;
        };
        if from == "lib.rs" || from == "lib" {
            continue; // the list of modules itself
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let crate_name = if from == "bin" { "aisnode" } else { "crate" };
        for to in imports(&text, crate_name) {
            if to != from {
                pairs
                    .entry((from.clone(), to))
                    .or_insert_with(|| file.clone());
            }
        }
    }
    pairs
}

#[test]
fn every_module_imports_only_lower_layers() {
    let mut wrong = Vec::new();
    for ((from, to), file) in module_imports() {
        match (layer_of(&from), layer_of(&to)) {
            (None, _) => wrong.push(format!("{from}: not in the layer map (tests/layers.rs)")),
            (_, None) => wrong.push(format!("{to}: not in the layer map (tests/layers.rs)")),
            (Some(a), Some(b)) if b >= a => wrong.push(format!(
                "{from} (layer {a}) imports {to} (layer {b}) in {}",
                file.display()
            )),
            _ => {}
        }
    }
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against the layer map:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_proxy_and_the_loader_stay_out_of_the_target() {
    let wrong: Vec<String> = module_imports()
        .into_iter()
        .filter(|((from, to), _)| {
            (from == "proxy" || from == "loader") && TARGET_ONLY.contains(&to.as_str())
        })
        .map(|((from, to), file)| format!("{from} imports {to} in {}", file.display()))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_import_reader_sees_what_it_must() {
    let text = "use crate::{store::X, wire};\n// crate::proxy in a comment\nlet a = crate::hrw::owner();\n\
                #[cfg(test)]\nuse crate::loader;";
    assert_eq!(imports(text, "crate"), ["store", "wire", "hrw"]);
    assert_eq!(imports("aisnode::proxy::run()", "aisnode"), ["proxy"]);
    assert!(imports("my_crate::x", "crate").is_empty());
}
