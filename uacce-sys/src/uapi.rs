//! uapi (to be written)
