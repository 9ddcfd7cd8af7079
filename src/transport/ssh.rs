//! placeholder for the ssh transport
