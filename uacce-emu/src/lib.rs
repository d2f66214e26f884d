//! `uacce-emu`: an in-process device that speaks the HiSilicon QM ring protocol.
