//! TaskifAI's engine: turns raw sell-out cells into canonical Arrow batches.
//!
//! The path of a file: a reader (in `taskifai-connectors`) yields raw text cells as Arrow
//! batches ([`raw`]); a vendor spec ([`spec`]) picks the sheet and header ([`layout`]), reshapes
//! rows, reads the period ([`period`]) and parses values ([`values`]) into the canonical tables
//! ([`schema`]) in [`normalize`]; [`pipeline`] drives it and reports [`issues`].

pub mod analytics;
pub mod chat;
pub mod completeness;
pub mod detect;
pub mod error;
pub mod examples;
pub mod exprs;
pub mod fanout;
pub mod hooks;
pub mod issues;
pub mod labels;
pub mod layout;
pub mod normalize;
pub mod period;
pub mod pipeline;
pub mod raw;
pub mod reference;
pub mod schema;
pub mod spec;
pub mod sql_guard;
pub mod values;
pub mod xorshift;

pub use error::{Error, Result};

// Hooks' memory is metered only through this allocator; the engine's own tests use it too.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: taskifai_meter::Metered<std::alloc::System> =
    taskifai_meter::Metered(std::alloc::System);
