//! `uacce`: the facade of uacce-rs. Re-exports the layers so that one dependency is enough.
pub use uacce_emu as emu;
pub use uacce_sys as sys;
