//! Tests of the engine as a whole: property tests over arbitrary sample sequences and rules
//! ([`props`]), and examples of every behaviour an operator relies on ([`thresholds`],
//! [`builtins`]). [`support`] builds records, rules and checks the event stream.

mod builtins;
mod props;
pub(crate) mod support;
mod thresholds;
