//! `uacce-async`: awaitable uacce jobs on tokio (see issue "uacce-async").
