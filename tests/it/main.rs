//! End-to-end tests over the real sample files, readers, specs, pipeline and lake.

mod bad_input;
mod cloud;
mod delta_interop;
mod detection;
mod edge_cases;
mod golden;
mod lake;
mod multi_month;
mod optimize;
mod period_sources;
mod product_identity;
mod robustness;
mod silent_loss;
mod sql_guard;
mod tenant_db;

// As in the binary: hooks' memory is metered.
#[global_allocator]
static GLOBAL: taskifai_meter::Metered<std::alloc::System> =
    taskifai_meter::Metered(std::alloc::System);

/// A tenant id the test knows to be valid.
fn tid(id: &str) -> taskifai_connectors::TenantId {
    taskifai_connectors::TenantId::parse(id).expect("a valid tenant id")
}
