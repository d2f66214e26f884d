//! HiSilicon ZIP SQE encode/decode.
