//! `kseries.toml`: which branches the bot acts on, with which recipe and
//! which checks.
//!
//! ```toml
//! branches = ["master", "for-next"]   # pushes to these trigger a series
//! recipe = "invalidate-page"
//! checks = ["build", "boot"]
//! series_prefix = "kseries/"          # the series of `master` is pushed to `kseries/master`
//! ```

use serde::Deserialize;

use super::check_runs::CheckKind;
use super::git::BranchName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub branches: Vec<BranchName>,
    pub recipe: String,
    pub checks: Vec<CheckKind>,
    pub series_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("kseries.toml: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("kseries.toml: {0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    /// None: the bot makes no series (it still checks pull requests).
    #[serde(default)]
    branches: Vec<String>,
    #[serde(default = "default_recipe")]
    recipe: String,
    #[serde(default = "default_checks")]
    checks: Vec<String>,
    #[serde(default = "default_prefix")]
    series_prefix: String,
}

fn default_recipe() -> String {
    "invalidate-page".into()
}
fn default_checks() -> Vec<String> {
    vec!["build".into(), "boot".into()]
}
fn default_prefix() -> String {
    "kseries/".into()
}

impl Default for Config {
    /// What an empty `kseries.toml` says: no branch makes a series; the
    /// default recipe and checks.
    fn default() -> Config {
        Config::parse("").expect("the defaults are valid")
    }
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: Raw = toml::from_str(text)?;
        let mut branches = Vec::new();
        for b in &raw.branches {
            branches.push(BranchName::new(b).map_err(|e| ConfigError::Invalid(e.to_string()))?);
        }
        if crate::recipe::by_id(&raw.recipe).is_none() {
            return Err(ConfigError::Invalid(format!(
                "unknown recipe {:?}",
                raw.recipe
            )));
        }
        let mut checks = Vec::new();
        for c in &raw.checks {
            let k = CheckKind::from_id(c).ok_or_else(|| {
                ConfigError::Invalid(format!("unknown check {c:?} (build, boot)"))
            })?;
            if !checks.contains(&k) {
                checks.push(k);
            }
        }
        // The prefix must make valid branch names.
        BranchName::new(&format!("{}x", raw.series_prefix))
            .map_err(|e| ConfigError::Invalid(format!("series_prefix: {e}")))?;
        Ok(Config {
            branches,
            recipe: raw.recipe,
            checks,
            series_prefix: raw.series_prefix,
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text)
    }

    pub fn watches(&self, branch: &BranchName) -> bool {
        self.branches.contains(branch)
    }

    /// The branch the series made from `base` is pushed to.
    pub fn series_branch(&self, base: &BranchName) -> BranchName {
        BranchName::new(&format!("{}{}", self.series_prefix, base))
            .expect("prefix and base are both valid")
    }

    /// Is `branch` one of the bot's own series branches?
    pub fn is_series_branch(&self, branch: &BranchName) -> bool {
        branch.as_str().starts_with(&self.series_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let c = Config::parse("branches = [\"master\"]\nchecks = [\"build\"]\n").unwrap();
        assert_eq!(c.recipe, "invalidate-page");
        assert_eq!(c.checks, [CheckKind::Build]);
        let master = BranchName::new("master").unwrap();
        assert!(c.watches(&master));
        assert_eq!(c.series_branch(&master).as_str(), "kseries/master");
        assert!(Config::parse("branches = [\"-x\"]").is_err());
        assert!(Config::parse("branches = [\"m\"]\nrecipe = \"nope\"").is_err());
        assert!(Config::parse("branches = [\"m\"]\nchecks = [\"lint\"]").is_err());
        assert!(Config::parse("branches = [\"m\"]\nseries_prefix = \"..\"").is_err());
        assert!(Config::parse("branches = [\"m\"]\nbogus = 1").is_err());
    }

    #[test]
    fn an_empty_file_watches_no_branch_with_every_check() {
        let c = Config::default();
        assert!(c.branches.is_empty());
        assert!(!c.watches(&BranchName::new("master").unwrap()));
        assert_eq!(c.checks, CheckKind::ALL);
        assert_eq!(c, Config::parse("").unwrap());
    }
}
