//! Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the console's
//! real-browser tests: open a page, evaluate JavaScript in it, wait for a condition, take a
//! screenshot. A missing browser fails the test with what to install; it is never skipped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// The browser binary: `$CHROMIUM`, else `/usr/bin/chromium`, else `chromium` on PATH.
pub fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let debian = Path::new("/usr/bin/chromium");
    if debian.exists() {
        return debian.to_path_buf();
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("chromium");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "chromium is missing: the console's browser tests need Debian's chromium \
         (`apt-get install -y chromium`, which .ci/run does) or CHROMIUM=/path/to/chromium"
    );
}

/// One headless Chromium process with one page, killed when dropped.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a fresh profile and a `width`×`height` window, and opens a blank
    /// page.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = chromium_path();
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that dropping it ends its renderers too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", chromium.display()));
        // Chromium prints "DevTools listening on ws://..." on stderr once it accepts a client.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not open its DevTools endpoint within 30 s", chromium.display());
            }
        };
        let addr = url.trim_start_matches("ws://").split('/').next().unwrap().to_string();
        let tcp = TcpStream::connect(&addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (ws, _) = tungstenite::client::client(url.as_str(), tcp).expect("DevTools websocket handshake");
        let mut browser = Browser { child, ws, session: String::new(), next_id: 0, _profile: profile };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target id").to_string();
        let attached = browser.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        browser.session = attached["sessionId"].as_str().expect("a session id").to_string();
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// Sends one command (to the page once attached) and returns its result; panics on a
    /// protocol error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).expect("send to DevTools");
        loop {
            let frame = self.ws.read().unwrap_or_else(|e| panic!("DevTools: no answer to {method}: {e}"));
            let Message::Text(text) = frame else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools sends JSON");
            if v["id"] == json!(id) {
                if let Some(err) = v.get("error") {
                    panic!("DevTools {method} failed: {err}");
                }
                return v["result"].clone();
            }
        }
    }

    /// Emulates a viewport of `width`×`height` CSS pixels (`mobile`: a phone's meta viewport
    /// and touch), below the smallest window headless Chromium opens.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// Navigates to `url` (the load itself is awaited by [`Browser::wait_for`]).
    pub fn goto(&mut self, url: &str) {
        let r = self.call("Page.navigate", json!({"url": url}));
        assert!(r.get("errorText").is_none(), "navigation to {url} failed: {r}");
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true, "awaitPromise": true}));
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("page script `{expr}` threw: {ex}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluates `expr` until it is truthy (polled, with a deadline); returns its value.
    pub fn wait_for(&mut self, what: &str, expr: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(&format!("(() => {{ try {{ return ({expr}); }} catch (e) {{ return null; }} }})()"));
            let truthy = !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let dump = self.eval("document.body ? document.body.innerText.slice(0, 3000) : ''");
                panic!(
                    "timed out after {timeout:?} waiting for {what} (`{expr}`); the page shows:\n{}",
                    dump.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the page as it is now, saved to `path` (its folder is created).
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: the browser and its renderer and utility processes.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
