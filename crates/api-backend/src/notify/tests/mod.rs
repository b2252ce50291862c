//! Tests of the notifier: the policy rule by rule, and delivery to real local HTTP receivers.

mod delivery;
mod policy;
pub(crate) mod support;
