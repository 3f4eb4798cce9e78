//! The optional configuration file (`--config FILE` or `TASKIFAI_CONFIG`), YAML with one key per
//! option. Each key fills the environment variable of its option unless that is set already,
//! so the order is: flags > environment > file > built-in defaults. Unknown keys are errors.

use anyhow::{bail, Context};
use std::path::PathBuf;

/// Keys of the file and the environment variables they stand for.
const KEYS: &[(&str, &str)] = &[
    ("lake", "TASKIFAI_LAKE"),
    ("specs", "TASKIFAI_SPECS"),
    ("reference", "TASKIFAI_REFERENCE"),
    ("database_url", "DATABASE_URL"),
    ("host", "TASKIFAI_HOST"),
    ("port", "TASKIFAI_PORT"),
    ("base_domain", "TASKIFAI_BASE_DOMAIN"),
    ("jwt_secret", "TASKIFAI_JWT_SECRET"),
    ("access_ttl_secs", "TASKIFAI_ACCESS_TTL_SECS"),
    ("max_upload_mb", "TASKIFAI_MAX_UPLOAD_MB"),
    ("workers", "TASKIFAI_WORKERS"),
    ("lease_secs", "TASKIFAI_JOB_LEASE_SECS"),
    ("jobs_per_tenant", "TASKIFAI_JOBS_PER_TENANT"),
    ("grace_secs", "TASKIFAI_GRACE_SECS"),
    ("metrics_public", "TASKIFAI_METRICS_PUBLIC"),
    ("header_timeout_secs", "TASKIFAI_HEADER_TIMEOUT_SECS"),
];

/// The file named by `--config`/`--config=` in `args` or by `TASKIFAI_CONFIG`.
fn path(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os("TASKIFAI_CONFIG").map(PathBuf::from)
}

/// The settings of a file's text as (environment variable, value) pairs.
pub fn parse(file: &str, text: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let map: serde_yaml::Mapping = serde_yaml::from_str(text)
        .with_context(|| format!("{file}: not a YAML mapping of option: value"))?;
    let mut out = Vec::new();
    for (k, v) in map {
        let key = k
            .as_str()
            .with_context(|| format!("{file}: keys must be text"))?;
        let Some((_, var)) = KEYS.iter().find(|(name, _)| *name == key) else {
            bail!(
                "{file}: unknown option {key:?}; known: {}",
                KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
            );
        };
        let value = match v {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            other => bail!("{file}: {key} must be a single value, found {other:?}"),
        };
        out.push((*var, value));
    }
    Ok(out)
}

/// Applies the configuration file, if there is one; returns its path.
pub fn apply(args: &[String]) -> anyhow::Result<Option<PathBuf>> {
    let Some(p) = path(args) else { return Ok(None) };
    let name = p.display().to_string();
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("reading the configuration file {name}"))?;
    for (var, value) in parse(&name, &text)? {
        if std::env::var_os(var).is_none() {
            // Single-threaded here: main calls this before the runtime starts.
            std::env::set_var(var, value);
        }
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_their_variables() {
        let got = parse(
            "taskifai.yaml",
            "port: 9000\nbase_domain: acme.example\nworkers: 4\n",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("TASKIFAI_PORT", "9000".into()),
                ("TASKIFAI_BASE_DOMAIN", "acme.example".into()),
                ("TASKIFAI_WORKERS", "4".into())
            ]
        );
    }

    #[test]
    fn a_typo_names_the_file_and_the_known_options() {
        let err = parse("taskifai.yaml", "prot: 9000\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("taskifai.yaml: unknown option \"prot\""),
            "{err}"
        );
        assert!(err.contains("port"), "{err}");
    }

    #[test]
    fn the_flag_wins_over_the_environment_variable_for_the_path() {
        let args: Vec<String> = ["taskifai", "serve", "--config", "a.yaml"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(path(&args), Some(PathBuf::from("a.yaml")));
        let args: Vec<String> = ["taskifai", "--config=b.yaml"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(path(&args), Some(PathBuf::from("b.yaml")));
    }
}
