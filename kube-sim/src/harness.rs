//! Test harness: a kube-sim process per test, and the real kubectl against it.
//!
//! For tests (this crate's and self-heal's): each [`Sim`] runs the `kube-sim` binary on port 0
//! and is killed when dropped. The API is HTTPS with authentication and RBAC: [`Sim::kubeconfig`]
//! is the admin's (group `system:masters`), [`Sim::api`] sends raw requests as the admin,
//! [`Sim::client_cert_kubeconfig`], [`Sim::token_kubeconfig`] and
//! [`Sim::service_account_kubeconfig`] make kubeconfigs for other users, and [`Sim::requests`]
//! reads kube-sim's record of every request it served. [`Sim::add_fault`] and its siblings
//! switch fault rules (`/_sim/faults`) while it runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use crate::record::RecordedRequest;

use crate::kubeconfig::{self, Credentials};

/// A running kube-sim, killed when dropped.
pub struct Sim {
    child: Child,
    /// The API server URL (`https://127.0.0.1:<port>`).
    pub url: String,
    dir: tempfile::TempDir,
    admin_token: String,
    ca_pem: String,
}

/// A raw API response.
#[derive(Debug)]
pub struct ApiResponse {
    /// HTTP status code.
    pub code: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as text.
    pub body: String,
}

impl ApiResponse {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// One header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
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
            .arg("--pki-dir")
            .arg(dir.path().join("pki"))
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
        let kc: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&kubeconfig).expect("kubeconfig written")).unwrap();
        let admin_token = kc["users"][0]["user"]["token"].as_str().expect("admin token in kubeconfig").to_string();
        let ca_pem = std::fs::read_to_string(dir.path().join("pki/ca.crt")).expect("CA written into --pki-dir");
        Sim { child, url, dir, admin_token, ca_pem }
    }

    /// The kubeconfig kube-sim wrote: the admin's (`kube-sim-admin`, group `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The admin's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// kube-sim's CA certificate, PEM (also in `<dir>/pki/ca.crt`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes a kubeconfig for this sim with `creds` into the scratch directory as `name`.
    fn write_kubeconfig(&self, name: &str, creds: &Credentials) -> PathBuf {
        let path = self.dir.path().join(name);
        kubeconfig::write(&path, &kubeconfig::render(&self.url, &self.ca_pem, creds)).expect("write kubeconfig");
        path
    }

    /// A kubeconfig that authenticates with a client certificate signed by kube-sim's CA
    /// (CN = `user`, O = `groups`).
    pub fn client_cert_kubeconfig(&self, user: &str, groups: &[&str]) -> PathBuf {
        let (cert_pem, key_pem) =
            crate::pki::sign_client_cert(&self.dir.path().join("pki"), user, groups).expect("sign client certificate");
        self.write_kubeconfig(&format!("kubeconfig-cert-{}", file_safe(user)), &Credentials::Cert { cert_pem, key_pem })
    }

    /// A kubeconfig that authenticates with a bearer token.
    pub fn token_kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        self.write_kubeconfig(&format!("kubeconfig-token-{}", file_safe(name)), &Credentials::Token(token.to_string()))
    }

    /// A kubeconfig for ServiceAccount `ns/sa`: creates the namespace and the ServiceAccount when
    /// missing, applies `manifests` (Roles, bindings...) as the admin, and asks for a token with
    /// `kubectl create token` (the TokenRequest subresource).
    pub fn service_account_kubeconfig(&self, ns: &str, sa: &str, manifests: &[&Path]) -> PathBuf {
        if !self.kubectl(&["get", "namespace", ns]).status.success() {
            self.kubectl_ok(&["create", "namespace", ns]);
        }
        for m in manifests {
            self.kubectl_ok(&["apply", "-f", m.to_str().expect("utf-8 path")]);
        }
        if !self.kubectl(&["-n", ns, "get", "serviceaccount", sa]).status.success() {
            self.kubectl_ok(&["-n", ns, "create", "serviceaccount", sa]);
        }
        let token = self.kubectl_ok(&["-n", ns, "create", "token", sa]).trim().to_string();
        assert!(!token.is_empty(), "kubectl create token printed no token");
        self.token_kubeconfig(&format!("{ns}-{sa}"), &token)
    }

    /// A raw request as the admin: (status, body). `body` is (content type, text).
    pub fn api(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, String) {
        let r = self.api_as(Some(&self.admin_token), method, path, body);
        (r.code, r.body)
    }

    /// A raw request with `token` as bearer token (None: no credentials).
    pub fn api_as(&self, token: Option<&str>, method: &str, path: &str, body: Option<(&str, &str)>) -> ApiResponse {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("CA PEM"))
            .build()
            .expect("HTTPS client");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut req = client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((ct, b)) = body {
            req = req.header("content-type", ct).body(b.to_string());
        }
        let r = req.send().unwrap_or_else(|e| panic!("{path}: {e}"));
        let code = r.status().as_u16();
        let headers = r.headers().clone();
        ApiResponse { code, headers, body: r.text().expect("response body") }
    }

    /// Every API request kube-sim served so far (`GET /_sim/requests`), oldest first; the
    /// harness's own calls to `/_sim/` are not recorded.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let (code, body) = self.api("GET", "/_sim/requests", None);
        assert_eq!(code, 200, "GET /_sim/requests: {body}");
        serde_json::from_str(&body).expect("request record")
    }

    /// Forgets the requests recorded so far (`DELETE /_sim/requests`).
    pub fn clear_requests(&self) {
        let (code, body) = self.api("DELETE", "/_sim/requests", None);
        assert_eq!(code, 200, "DELETE /_sim/requests: {body}");
    }

    /// Adds one fault rule (`POST /_sim/faults`, shape in the README); its id.
    pub fn add_fault(&self, rule: serde_json::Value) -> String {
        let ids = self.add_faults(rule);
        assert_eq!(ids.len(), 1, "one rule, one id: {ids:?}");
        ids.into_iter().next().unwrap_or_default()
    }

    /// Adds a rule or an array of rules; their ids in order.
    pub fn add_faults(&self, rules: serde_json::Value) -> Vec<String> {
        let (code, body) = self.api("POST", "/_sim/faults", Some(("application/json", &rules.to_string())));
        assert_eq!(code, 201, "POST /_sim/faults {rules}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("fault ids");
        v["ids"].as_array().expect("ids").iter().map(|id| id.as_str().expect("id").to_string()).collect()
    }

    /// The fault rules with their hits (`GET /_sim/faults`): `{"faults":[{"id","rule","hits","active"}]}`.
    pub fn faults(&self) -> serde_json::Value {
        let (code, body) = self.api("GET", "/_sim/faults", None);
        assert_eq!(code, 200, "GET /_sim/faults: {body}");
        serde_json::from_str(&body).expect("fault list")
    }

    /// How many requests hit the rule `id` so far (0 when it does not exist).
    pub fn fault_hits(&self, id: &str) -> u64 {
        self.faults()["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["id"] == id)
            .and_then(|f| f["hits"].as_u64())
            .unwrap_or(0)
    }

    /// Waits until the rule `id` was hit at least `n` times; the hits (panics after `timeout`).
    pub fn wait_fault_hits(&self, id: &str, n: u64, timeout: Duration) -> u64 {
        eventually(&format!("{n} hits of fault {id}"), timeout, || Some(self.fault_hits(id)).filter(|h| *h >= n))
    }

    /// Removes the rule `id`, releasing the requests it holds.
    pub fn remove_fault(&self, id: &str) {
        let (code, body) = self.api("DELETE", &format!("/_sim/faults/{id}"), None);
        assert_eq!(code, 200, "DELETE /_sim/faults/{id}: {body}");
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        let (code, body) = self.api("DELETE", "/_sim/faults", None);
        assert_eq!(code, 200, "DELETE /_sim/faults: {body}");
    }

    /// Runs the real kubectl with another kubeconfig (own discovery cache, no user config).
    pub fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        Command::new(kubectl_path())
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", self.dir.path())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// A scratch directory that lives as long as the sim.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the real kubectl against this sim as the admin (own discovery cache, no user config).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.kubeconfig(), args)
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

impl Sim {
    /// kube-sim's process id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `within` for kube-sim to exit; its exit status.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let child = &mut self.child;
        eventually("kube-sim to exit after SIGTERM", within, || child.try_wait().expect("wait for kube-sim"))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A name made safe for a file name.
fn file_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
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

/// A blocking HTTP GET over a plain socket (pods and Service proxies are plain HTTP): status
/// code, or None if the connection failed.
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
