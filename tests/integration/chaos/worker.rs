//! The Kubernetes API misbehaving under `self-heal`: 429 with Retry-After, 5xx, dropped and
//! expired watches, conflicts, connections lost before the answer.
