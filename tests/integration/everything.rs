//! npm's `@modelcontextprotocol/server-everything`, a real MCP server from outside this project,
//! started on loopback with a scrubbed environment (its `get-env` tool prints its environment).
//! Shared by the integration tests and the orchestrator benchmark (`#[path]`), so it uses std
//! and tempfile only.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running server; killed and reaped on drop.
pub struct Everything {
    child: Child,
    /// Its Streamable HTTP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Everything {
    #[allow(dead_code, reason = "the benchmark reads its CPU time; the tests do not")]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the package is: $MCP_EVERYTHING_DIR, or target/tools as .ci/run and
/// scripts/bench-orchestrator.sh install it.
pub fn index() -> PathBuf {
    let root = std::env::var("MCP_EVERYTHING_DIR").unwrap_or_else(|_| {
        format!("{}/target/tools/node_modules/@modelcontextprotocol/server-everything", env!("CARGO_MANIFEST_DIR"))
    });
    PathBuf::from(root).join("dist/index.js")
}

/// Starts it and waits (up to 20 s) until it accepts connections.
pub fn start() -> Everything {
    let index = index();
    assert!(
        index.exists(),
        "{} is missing: install it with `npm install --prefix target/tools @modelcontextprotocol/server-everything` (.ci/run does), or set MCP_EVERYTHING_DIR",
        index.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let preload = dir.path().join("loopback.cjs");
    // Keep it on loopback: it has no host option and listens on all interfaces otherwise.
    std::fs::write(
        &preload,
        "const net=require('net');const l=net.Server.prototype.listen;net.Server.prototype.listen=function(...a){if(typeof a[0]==='number'){return l.call(this,a[0],'127.0.0.1',...a.slice(1).filter(x=>typeof x==='function'))}return l.apply(this,a)};\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("node")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .arg("--require")
        .arg(&preload)
        .arg(&index)
        .arg("streamableHttp")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (for server-everything)");
    let server = Everything { child, url: format!("http://127.0.0.1:{port}/mcp"), _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server-everything did not listen on {port} within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}
