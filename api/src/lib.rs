//! TaskifAI's service side: the REST API ([`server`]), the durable job queue ([`jobs`]) and the
//! workers that drain it ([`worker`]). The `taskifai` binary wires them to the command line.

pub mod audit;
pub mod cache;
pub mod chat;
pub mod config;
pub mod email;
pub mod jobs;
pub mod metrics;
pub mod query_engine;
pub mod query_runner;
pub mod report;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod state;
pub mod webhooks;
pub mod worker;

pub use server::{router, serve};
pub use state::AppState;
