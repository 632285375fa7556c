//! Listening to providers: signature verification (`verify`), the receiver routes (`receiver`), payload
//! formats that turn a verified delivery into events (`sources`), and the webhook inspector's pages (`inspector`)
//! over what the receiver saw.

pub mod inspector;
pub mod receiver;
pub mod sources;
pub mod verify;

pub use crate::domain::source::{Format, Scheme};
pub use verify::{Delivery, Unverified, Verified, Verifier, VerifyError};
