//! Listening to providers: signature verification (`verify`), the receiver routes (`receiver`), and payload
//! formats that turn a verified delivery into events (`sources`).

pub mod receiver;
pub mod sources;
pub mod verify;

pub use crate::domain::source::{Format, Scheme};
pub use verify::{Delivery, Unverified, Verified, Verifier, VerifyError};
