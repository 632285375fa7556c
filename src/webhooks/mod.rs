//! Listening to providers: webhook signature verification (the receiver and the event log follow).

pub mod verify;

pub use verify::{Delivery, Scheme, Unverified, Verified, Verifier, VerifyError};
