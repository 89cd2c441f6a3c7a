//! Monitoring: node samples kept as time series ([`sample`]), alert rules over them and over
//! certificates with delivery channels ([`alert`]), the delivery of notifications with retries
//! and a log ([`delivery`]) by webhook or e-mail ([`smtp`]), to addresses the operator allows
//! ([`target`]).

pub mod alert;
pub mod delivery;
pub mod sample;
pub mod smtp;
pub mod target;
