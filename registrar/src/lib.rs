//! SIP registrar and location service for the Tandem VoIP toolkit.
//!
//! **Status: skeleton.** This crate is planned but not implemented yet; it exports nothing. Its scope:
//! REGISTER processing per RFC 3261 §10.3 (bindings, expiry, q-values, Call-ID/CSeq ordering, wildcard removal, Min-Expires), Path (RFC 3327), outbound flows (RFC 5626), a sans-IO `Registrar` over an async `LocationStore` trait with memory, SQL and Redis backends, and digest credentials stored as HA1.
#![warn(missing_docs, unreachable_pub)]
