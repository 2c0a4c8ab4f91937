//! `self-heal` killed (SIGKILL) or signalled (SIGTERM/SIGINT) mid-heal: the Lease is taken over
//! and the next run completes the heal without a second remediation.
