//! kube-sim API fidelity, driven by the real kubectl.
