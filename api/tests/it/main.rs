//! End-to-end tests of the `taskifai` binary and the HTTP API (one test binary, linked once).

#[cfg(feature = "ballista")]
mod ballista;
mod cli;
mod rollup;
mod server;

// As in the binary: hooks run by the in-process workers are metered.
#[global_allocator]
static GLOBAL: taskifai_meter::Metered<std::alloc::System> =
    taskifai_meter::Metered(std::alloc::System);
