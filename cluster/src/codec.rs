//! How plans travel to the cluster: Ballista's codec for its own operators, plus TaskifAI's
//! bounded functions (`repeat`, `||`, … with a byte budget), which a cluster would otherwise
//! decode as its own unbounded functions of the same names.

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::ScalarUDF;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;
use taskifai_engine::sql_guard::bounded;

/// What a bounded function is sent as, beside its name.
const BOUNDED: &[u8] = b"taskifai:bounded";

/// The codec the client, the scheduler and the executors share.
#[derive(Debug, Default)]
pub struct Codec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.ballista.try_encode(node, buf, proto_converter)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        if bounded::is_bounded(node) {
            buf.extend_from_slice(BOUNDED);
            return Ok(());
        }
        self.ballista.try_encode_udf(node, buf)
    }

    /// Each decoding makes the function again with a budget of its own: one per task.
    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        if buf == BOUNDED {
            return bounded::fresh(name).map(Arc::new).ok_or_else(|| {
                datafusion::error::DataFusionError::Plan(format!(
                    "{name} is not a bounded function of this TaskifAI version"
                ))
            });
        }
        self.ballista.try_decode_udf(name, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::FunctionRegistry;
    use datafusion::prelude::SessionContext;

    #[test]
    fn bounded_functions_travel_as_bounded_ones_with_a_budget_of_their_own() {
        let ctx = SessionContext::new();
        bounded::install(&ctx, &bounded::Budget::new(10));
        let codec = Codec::default();
        for name in ["repeat", "lpad", "array_repeat", bounded::CONCAT_OP] {
            let udf = ctx.udf(name).unwrap();
            let mut buf = Vec::new();
            codec.try_encode_udf(&udf, &mut buf).unwrap();
            assert_eq!(buf, BOUNDED, "{name}");
            let back = codec.try_decode_udf(name, &buf).unwrap();
            assert!(bounded::is_bounded(&back), "{name}");
            assert_eq!(back.name(), name);
            // A new budget, not the 10 bytes of the sender's.
            assert_ne!(back.as_ref(), udf.as_ref(), "{name}");
        }
        // Other functions go by name, as Ballista sends them.
        let upper = SessionContext::new().udf("upper").unwrap();
        let mut buf = Vec::new();
        codec.try_encode_udf(&upper, &mut buf).unwrap();
        assert!(buf.is_empty());
        assert!(codec.try_decode_udf("nope", BOUNDED).is_err());
    }
}
