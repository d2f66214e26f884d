//! HiSilicon SEC BD (SQE) encode/decode.
