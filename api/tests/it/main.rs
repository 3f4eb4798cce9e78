//! End-to-end tests of the `taskifai` binary and the HTTP API (one test binary, linked once).

mod cli;
mod server;
