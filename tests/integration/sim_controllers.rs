//! kube-sim controllers and faults, driven by the real kubectl as the seed's scenarios do.
