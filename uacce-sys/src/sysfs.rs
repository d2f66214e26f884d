//! sysfs (to be written)
