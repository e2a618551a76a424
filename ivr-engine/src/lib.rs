//! IVR flow language and sans-IO interpreter for the Tandem VoIP toolkit.
//!
//! **Status: skeleton.** This crate is planned but not implemented yet; it exports nothing. Its scope:
//! a readable `.ivr` flow language compiled to one IR (also loadable from JSON or database rows), verbs such as answer, play, gather, menu, dial, enqueue, record and hangup, and a sans-IO interpreter that takes events (DTMF, prompt done, timeout, hangup) and returns actions.
#![warn(missing_docs, unreachable_pub)]
