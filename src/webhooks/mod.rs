//! Listening to providers: signature verification, the receiver routes, and how a verified delivery becomes an
//! event-log row.

pub mod extract;
pub mod receiver;
pub mod verify;

pub use extract::NewEvent;
pub use verify::{Delivery, Scheme, Unverified, Verified, Verifier, VerifyError};
