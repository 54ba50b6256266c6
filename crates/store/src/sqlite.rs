//! SQLite backend. TODO
