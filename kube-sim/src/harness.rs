//! Test harness: a kube-sim process per test, and the real kubectl against it.
//!
//! For tests (this crate's and self-heal's): each [`Sim`] runs the `kube-sim` binary on port 0
//! and is killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running kube-sim, killed when dropped.
pub struct Sim {
    child: Child,
    /// The API server URL (`http://127.0.0.1:<port>`).
    pub url: String,
    dir: tempfile::TempDir,
}

impl Sim {
    /// kube-sim with the demo objects (`cortex-system/sandfly-mcp-server`, 2 replicas).
    pub fn demo() -> Sim {
        Sim::start(&["--demo"])
    }

    /// kube-sim with no objects beyond the defaults.
    pub fn empty() -> Sim {
        Sim::start(&[])
    }

    /// kube-sim seeded from a YAML string.
    pub fn seeded(yaml: &str) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed.yaml");
        std::fs::write(&seed, yaml).unwrap();
        let sim = Sim::start(&["--seed", seed.to_str().unwrap()]);
        drop(dir);
        sim
    }

    /// kube-sim with extra arguments; waits for its `kube-sim ready <url>` line.
    pub fn start(args: &[&str]) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(binary())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            // Warnings only, so a failing test's output shows what matters.
            .env("RUST_LOG", std::env::var("SIM_LOG").unwrap_or_else(|_| "warn".to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kube-sim");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(url) = line.strip_prefix("kube-sim ready ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("kube-sim did not print its ready line within 20 s");
            }
        };
        Sim { child, url, dir }
    }

    /// The kubeconfig kube-sim wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A scratch directory that lives as long as the sim.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the real kubectl against this sim (own discovery cache, no user config).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(kubectl_path())
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl get -o json` of one object.
    pub fn get_json(&self, ns: &str, what: &str) -> serde_json::Value {
        serde_json::from_str(&self.kubectl_ok(&["-n", ns, "get", what, "-o", "json"])).unwrap()
    }

    /// The loopback URL of a Service's proxy (annotation `kube-sim.self-heal.dev/url`).
    pub fn service_url(&self, ns: &str, svc: &str) -> String {
        let v = self.get_json(ns, &format!("service/{svc}"));
        v["metadata"]["annotations"]["kube-sim.self-heal.dev/url"].as_str().expect("service url annotation").to_string()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `kube-sim` binary: `$KUBE_SIM_BIN`, else the one cargo built beside the running test
/// (`target/<profile>/kube-sim`; `cargo test` in the workspace builds it).
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBE_SIM_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/kube-sim
    let dir = exe.parent().and_then(Path::parent).expect("test executable in target/<profile>/deps");
    let bin = dir.join(format!("kube-sim{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p kube-sim` (cargo test in the workspace does)",
        bin.display()
    );
    bin
}

/// The kubectl to drive: `$KUBECTL`, else the one on PATH.
pub fn kubectl_path() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_string())
}

/// Polls `f` until it returns `Some`, or panics after `timeout` naming `what`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a TCP connection to the URL's host and port is accepted.
pub fn connects(url: &str) -> bool {
    let u = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", u.host_str().unwrap(), u.port_or_known_default().unwrap());
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)).is_ok()
}

/// Whether connecting to the URL is refused (ECONNREFUSED), as kube-proxy does with no endpoints.
pub fn refused(url: &str) -> bool {
    let u = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", u.host_str().unwrap(), u.port_or_known_default().unwrap());
    matches!(
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// A blocking HTTP GET over a plain socket: status code, or None if the connection failed.
pub fn http_get_status(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let u = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", u.host_str().unwrap(), u.port_or_known_default().unwrap());
    let mut s = std::net::TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", u.path(), u.host_str()?).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}
