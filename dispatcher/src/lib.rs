//! SIP load balancing to destination sets for the Tandem VoIP toolkit (Kamailio dispatcher semantics).
//!
//! **Status: skeleton.** This crate is planned but not implemented yet; it exports nothing. Its scope:
//! destination sets from a file or database, hashing, round-robin, random, priority, weight, relative-weight and call-load algorithms, and sans-IO OPTIONS health probing with failover.
#![warn(missing_docs, unreachable_pub)]
