//! The HTTP API against a real server on a free port, a real PostgreSQL (a fresh database per
//! test) and a lake in a temporary folder.

mod audit;
mod catalog;
mod chat;
mod dashboards;
mod email;
mod flow;
mod kit;
pub mod model_standin;
mod reports;
mod resets;
mod schedules;
mod security;
mod specs;
mod webhooks;
mod worker;
