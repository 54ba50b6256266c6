//! Integration tests of the sinks against real receivers on 127.0.0.1: a real Alertmanager, an
//! axum webhook receiver that checks signatures, a shell command hook, and the worker's delivery
//! state with sinks that fail.

mod alertmanager;
mod command;
mod support;
mod webhook;
mod worker;
