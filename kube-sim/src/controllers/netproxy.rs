//! Service proxies, as kube-proxy gives a Service its address: per Service port a TCP proxy on
//! 127.0.0.1 that splices each connection to a ready endpoint, round robin. With no ready
//! endpoints the listener is closed, so connections are refused (ECONNREFUSED, as kube-proxy's
//! reject rule does); it listens again on the same port when endpoints come back. The URL is
//! written once to the Service annotations `kube-sim.self-heal.dev/url` (first port) and
//! `kube-sim.self-heal.dev/url-<portname>` (each named port).
//!
//! While closed, the port stays held by a bound socket that does not listen (SO_REUSEADDR):
//! connections are refused, yet no other socket on the machine (another kube-sim's proxy, an
//! outgoing connection's ephemeral port) can take the port meanwhile.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Ctx, Wake, meta};
use crate::resources::{ENDPOINTS, SERVICES};

/// The annotation holding a Service's proxy URL.
pub const URL_ANNOTATION: &str = "kube-sim.self-heal.dev/url";

type Backends = Arc<Mutex<Vec<SocketAddr>>>;

/// Where a closed proxy keeps its port: a bound, non-listening socket.
type Hold = Arc<Mutex<Option<TcpSocket>>>;

struct PortProxy {
    name: Option<String>,
    port: u16,
    backends: Backends,
    rr: Arc<AtomicUsize>,
    /// The accept loop and the signal that closes it (it then puts the hold back).
    accept: Option<(JoinHandle<()>, oneshot::Sender<()>)>,
    hold: Hold,
}

impl PortProxy {
    /// Stops listening (connections are refused) but keeps the port.
    fn close(&mut self) {
        if let Some((_, stop)) = self.accept.take() {
            let _ = stop.send(());
        }
    }

    /// Gives the port up entirely.
    fn release(&mut self) {
        if let Some((task, _)) = self.accept.take() {
            task.abort();
        }
        *self.hold.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Starts listening on the held port (or binds it again if the hold is not back yet).
    fn open(&mut self) -> std::io::Result<()> {
        let held = self.hold.lock().unwrap_or_else(|e| e.into_inner()).take();
        let sock = match held {
            Some(s) => s,
            None => bind(self.port)?,
        };
        let listener = sock.listen(1024)?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            self.backends.clone(),
            self.rr.clone(),
            stopped,
            self.hold.clone(),
            self.port,
        ));
        self.accept = Some((task, stop));
        Ok(())
    }
}

/// The proxies of all Services, keyed by Service uid.
#[derive(Default)]
pub struct Proxies {
    svcs: HashMap<String, Vec<PortProxy>>,
}

/// A socket bound to 127.0.0.1:`port` (0: any free port), not yet listening.
fn bind(port: u16) -> std::io::Result<TcpSocket> {
    let sock = TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    Ok(sock)
}

async fn accept_loop(
    listener: TcpListener,
    backends: Backends,
    rr: Arc<AtomicUsize>,
    mut stop: oneshot::Receiver<()>,
    hold: Hold,
    port: u16,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((conn, _)) => {
                tokio::spawn(splice(conn, backends.clone(), rr.clone()));
            }
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    drop(listener);
    if let Ok(sock) = bind(port) {
        *hold.lock().unwrap_or_else(|e| e.into_inner()) = Some(sock);
    }
}

async fn splice(mut conn: TcpStream, backends: Backends, rr: Arc<AtomicUsize>) {
    let list = backends.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if list.is_empty() {
        return;
    }
    let start = rr.fetch_add(1, Ordering::Relaxed);
    for i in 0..list.len() {
        let addr = list[(start + i) % list.len()];
        if let Ok(Ok(mut up)) = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
            let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
            return;
        }
    }
}

/// The ready endpoint addresses of a Service port, from its Endpoints object.
pub fn backends_of(endpoints: &Value, port_name: Option<&str>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for s in endpoints["subsets"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let ports = s["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
        let port = ports
            .iter()
            .find(|p| p["name"].as_str() == port_name)
            .or_else(|| if ports.len() == 1 { ports.first() } else { None })
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for a in s["addresses"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(ip) = a["ip"].as_str().and_then(|ip| ip.parse::<Ipv4Addr>().ok()) {
                out.push(SocketAddr::from((ip, port)));
            }
        }
    }
    out
}

impl Proxies {
    /// Closes every proxy.
    pub fn shutdown(&mut self) {
        for ports in self.svcs.values_mut() {
            ports.iter_mut().for_each(PortProxy::release);
        }
        self.svcs.clear();
    }

    /// Opens proxies for new Services, points them at the current endpoints, closes those of
    /// Services without ready endpoints or that are gone; returns when to retry a failed bind.
    pub fn sync(&mut self, ctx: &Ctx, now: Instant) -> Option<Instant> {
        let (svcs, _) = ctx.store.list(&SERVICES, None);
        let live: Vec<&str> = svcs.iter().map(|s| meta(s, "uid")).collect();
        self.svcs.retain(|uid, ports| {
            let keep = live.contains(&uid.as_str());
            if !keep {
                ports.iter_mut().for_each(PortProxy::release);
            }
            keep
        });
        let mut wake = Wake::default();
        for svc in &svcs {
            if svc["spec"]["type"] == "ExternalName" {
                continue;
            }
            let uid = meta(svc, "uid").to_string();
            let names = port_names(svc);
            let changed =
                self.svcs.get(&uid).is_some_and(|ps| ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>() != names);
            if changed || !self.svcs.contains_key(&uid) {
                // New Service, or ports added, removed or renamed: ports that stay keep their proxy.
                let old = self.svcs.remove(&uid).unwrap_or_default();
                let ports = open(ctx, svc, old);
                self.svcs.insert(uid.clone(), ports);
            }
            let eps = ctx.store.get(&ENDPOINTS, meta(svc, "namespace"), meta(svc, "name")).unwrap_or_default();
            for p in self.svcs.get_mut(&uid).map(Vec::as_mut_slice).unwrap_or_default() {
                let list = backends_of(&eps, p.name.as_deref());
                let empty = list.is_empty();
                *p.backends.lock().unwrap_or_else(|e| e.into_inner()) = list;
                if empty || p.port == 0 {
                    p.close();
                } else if p.accept.is_none() {
                    match p.open() {
                        Ok(()) => {}
                        Err(e) => {
                            tracing::debug!("failed to rebind service proxy port {}: {e}", p.port);
                            wake.at(Some(now + Duration::from_millis(50)));
                        }
                    }
                }
            }
        }
        wake.0
    }
}

fn port_name(p: &Value) -> Option<String> {
    p["name"].as_str().filter(|n| !n.is_empty()).map(str::to_string)
}

fn port_names(svc: &Value) -> Vec<Option<String>> {
    svc["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or_default().iter().map(port_name).collect()
}

/// Reserves a port per Service port (keeping the proxies in `old` whose port name stays, else
/// reusing a port a URL annotation names) and writes the URLs.
fn open(ctx: &Ctx, svc: &Value, mut old: Vec<PortProxy>) -> Vec<PortProxy> {
    let ann = &svc["metadata"]["annotations"];
    let mut out = Vec::new();
    let mut urls: Vec<(String, String)> = Vec::new();
    for (i, sp) in svc["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        let name = port_name(sp);
        let key = match &name {
            Some(n) => format!("{URL_ANNOTATION}-{n}"),
            None => URL_ANNOTATION.to_string(),
        };
        if let Some(pos) = old.iter().position(|p| p.name == name && p.port != 0) {
            let kept = old.remove(pos);
            let url = format!("http://127.0.0.1:{}", kept.port);
            if i == 0 {
                urls.push((URL_ANNOTATION.to_string(), url.clone()));
            }
            if name.is_some() {
                urls.push((key, url));
            }
            out.push(kept);
            continue;
        }
        let wanted = ann[&key]
            .as_str()
            .or(if i == 0 { ann[URL_ANNOTATION].as_str() } else { None })
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.port())
            .unwrap_or(0);
        let bound = bind(wanted).or_else(|_| bind(0));
        // Port 0 marks a port that could not be bound at all; it stays closed.
        let port = bound.as_ref().ok().and_then(|l| l.local_addr().ok()).map_or(0, |a| a.port());
        let held = bound.ok().filter(|_| port != 0);
        let url = format!("http://127.0.0.1:{port}");
        if port == 0 {
            tracing::warn!("failed to bind a proxy port for service {}", meta(svc, "name"));
        } else if i == 0 {
            urls.push((URL_ANNOTATION.to_string(), url.clone()));
        }
        if name.is_some() && port != 0 {
            urls.push((key, url));
        }
        out.push(PortProxy {
            name,
            port,
            backends: Arc::new(Mutex::new(Vec::new())),
            rr: Arc::new(AtomicUsize::new(0)),
            accept: None,
            hold: Arc::new(Mutex::new(held)),
        });
    }
    old.iter_mut().for_each(PortProxy::release);
    if !urls.is_empty() {
        let _ = ctx.store.mutate(&SERVICES, meta(svc, "namespace"), meta(svc, "name"), false, |s| {
            for (k, v) in urls {
                if s["metadata"]["annotations"][&k].as_str() != Some(v.as_str()) {
                    s["metadata"]["annotations"][&k] = json!(v);
                }
            }
            Ok(())
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_come_from_ready_addresses_of_the_named_port() {
        let eps = json!({"subsets": [{
            "addresses": [{"ip": "127.1.0.2"}, {"ip": "127.1.0.3"}],
            "notReadyAddresses": [{"ip": "127.1.0.4"}],
            "ports": [{"name": "http", "port": 3000}, {"name": "metrics", "port": 9090}],
        }]});
        let b = backends_of(&eps, Some("http"));
        assert_eq!(b, vec!["127.1.0.2:3000".parse().unwrap(), "127.1.0.3:3000".parse().unwrap()]);
        assert_eq!(backends_of(&eps, Some("metrics"))[0].port(), 9090);
        assert!(backends_of(&json!({}), None).is_empty());
    }
}
