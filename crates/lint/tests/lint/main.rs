//! Integration tests for ctwatch-lint, built as one test binary: generated certificates for every
//! lint (`cases`), real certificates (`corpus`), and agreement with pkilint (`pkilint`).

mod cases;
mod corpus;
mod pkilint;
mod support;
