//! Points in a load where a crash test freezes the process before killing it.

/// Where a load stops forever when `TASKIFAI_CRASHPOINT` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crashpoint {
    /// After the first accepted batch was handed to the lake writer.
    AfterFirstWrite,
    /// After all data files and the error report are written, before the commit.
    BeforeCommit,
    /// After the lake commit, before the database commit.
    BetweenCommits,
    /// `lake optimize`: after the merged files are written, before their commit.
    BeforeOptimizeCommit,
    /// `lake optimize`: after its first commit.
    AfterOptimizeCommit,
}

impl Crashpoint {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "after_first_write" => Some(Self::AfterFirstWrite),
            "before_commit" => Some(Self::BeforeCommit),
            "between_commits" => Some(Self::BetweenCommits),
            "before_optimize_commit" => Some(Self::BeforeOptimizeCommit),
            "after_optimize_commit" => Some(Self::AfterOptimizeCommit),
            _ => None,
        }
    }

    /// The point named by `TASKIFAI_CRASHPOINT`, read once per load.
    pub fn from_env() -> Option<Self> {
        std::env::var("TASKIFAI_CRASHPOINT")
            .ok()
            .and_then(|p| Self::parse(&p))
    }

    /// Never returns when the load is to stop here. The line on stderr is what a crash test
    /// waits for before it kills the process.
    pub(crate) async fn reached(point: Option<Self>, here: Self) {
        if point == Some(here) {
            eprintln!("crashpoint {here:?} reached");
            std::future::pending::<()>().await;
        }
    }
}
