//! TAXII 1.0 and 1.1: the XML message codec (`messages`); the services come next to it.

pub mod messages;
