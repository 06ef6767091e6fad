//! Webhooks' HTTP side: the payload a receiver gets ([`payload`]), which URLs may be sent to
//! ([`target`]), and the `webhook` job handler that sends and signs ([`delivery`]). Events, subscriptions
//! and the fan-out onto the job queue are `berth_registry::webhooks`.

mod delivery;
pub mod payload;
pub mod target;

pub(crate) use delivery::DELIVERIES;
pub use delivery::register;
