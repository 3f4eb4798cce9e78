//! End-to-end tests over the real sample files, readers, specs, pipeline and lake.

mod bad_input;
mod cloud;
mod detection;
mod golden;
mod lake;
mod robustness;
mod silent_loss;
mod sql_guard;
mod tenant_db;
