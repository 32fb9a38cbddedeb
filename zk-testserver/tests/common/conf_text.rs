//! Comparing `conf` answers across servers (shared by the test binaries with `#[path]`).

/// The text of a `conf` answer without the values that name or measure the data
/// directories, which differ between any two servers.
pub fn without_data_dirs(conf: &str) -> String {
    conf.lines()
        .map(|l| match l.split_once('=') {
            Some((k @ ("dataDir" | "dataLogDir" | "dataDirSize" | "dataLogSize"), _)) => {
                format!("{k}=_")
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
