//! Where a probe goes. The URL is a hint, not a target: it is probed straight only when its
//! host is the Service's own name (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`)
//! or one of its ClusterIPs, over http or https, and that host resolves here; otherwise the
//! probe goes through the API server's service proxy to the Service itself (operators on
//! laptops cannot resolve `<svc>.<ns>.svc.cluster.local`), and the URL lends it only its path
//! (checked like `--health-path`) — its port and scheme only when it names the Service.

use std::time::Duration;

use serde::Serialize;
use url::Url;

/// How a check reached the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Straight to the URL.
    Direct,
    /// Through `/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/...`.
    ApiProxy,
}

/// A resolved probe destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The URL to send to (path already set to the health path, if any).
    Direct(Url),
    /// The API-server path (starting with `/api/v1/...`, query included) to send to.
    ApiProxy(String),
}

impl Target {
    /// Which [`Route`] this is.
    pub fn route(&self) -> Route {
        match self {
            Target::Direct(_) => Route::Direct,
            Target::ApiProxy(_) => Route::ApiProxy,
        }
    }
}

/// How long name resolution may take before we fall back to the proxy.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `url`'s host resolves from here (IP literals always do).
pub async fn host_resolves(url: &Url) -> bool {
    let Some(host) = url.host() else { return false };
    let name = match host {
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => return true,
        url::Host::Domain(d) => d.to_string(),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name.as_str(), port))).await {
        Ok(Ok(mut addrs)) => addrs.next().is_some(),
        _ => false,
    }
}

/// The path to probe: `health_path` if given, else the URL's own path and query, else `/`.
pub fn probe_path(url: Option<&Url>, health_path: Option<&str>) -> String {
    if let Some(p) = health_path {
        return if p.starts_with('/') { p.to_string() } else { format!("/{p}") };
    }
    match url {
        Some(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        None => "/".to_string(),
    }
}

/// The service-proxy path for `service` in `ns`. `port` is the Service port (number); without
/// one, the URL's explicit port is used, else the API server picks the Service's only port.
pub fn proxy_path(ns: &str, service: &str, port: Option<u16>, url: Option<&Url>, path: &str) -> String {
    let scheme = if url.is_some_and(|u| u.scheme() == "https") { "https:" } else { "" };
    let port = port.or_else(|| url.and_then(Url::port));
    let target = match port {
        Some(p) => format!("{scheme}{service}:{p}"),
        None if scheme.is_empty() => service.to_string(),
        None => format!("{scheme}{service}:"),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("/api/v1/namespaces/{ns}/services/{target}/proxy/{path}")
}

/// Whether `url` names the Service itself: http or https, no credentials, and a host that is
/// the Service's name in one of its cluster forms or one of its ClusterIPs.
pub fn names_the_service(url: &Url, ns: &str, service: &str, cluster_ips: &[String]) -> bool {
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            [
                service.to_string(),
                format!("{service}.{ns}"),
                format!("{service}.{ns}.svc"),
                format!("{service}.{ns}.svc.cluster.local"),
            ]
            .contains(&d)
        }
        Some(url::Host::Ipv4(ip)) => cluster_ips.iter().any(|c| c.parse::<std::net::IpAddr>() == Ok(ip.into())),
        Some(url::Host::Ipv6(ip)) => cluster_ips.iter().any(|c| c.parse::<std::net::IpAddr>() == Ok(ip.into())),
        None => false,
    }
}

/// Chooses the destination: the URL (with the probe path) when it names the Service and its
/// host resolves, else the service proxy.
pub async fn choose(
    ns: &str,
    service: &str,
    cluster_ips: &[String],
    port: Option<u16>,
    url: Option<&Url>,
    health_path: Option<&str>,
) -> Target {
    let path = probe_path(url, health_path);
    let own = url.filter(|u| names_the_service(u, ns, service, cluster_ips));
    if let Some(u) = own
        && host_resolves(u).await
    {
        let mut direct = u.clone();
        if health_path.is_some() {
            direct.set_query(None);
            direct.set_path(&path);
        }
        direct.set_fragment(None);
        return Target::Direct(direct);
    }
    Target::ApiProxy(proxy_path(ns, service, port, own, &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_services_own_host_goes_direct_with_health_path() {
        let ips = vec!["127.0.0.1".to_string()];
        let ip: Url = "http://127.0.0.1:9/mcp?x=1".parse().unwrap();
        assert_eq!(choose("ns", "svc", &ips, None, Some(&ip), None).await, Target::Direct(ip.clone()));
        let t = choose("ns", "svc", &ips, None, Some(&ip), Some("/health")).await;
        assert_eq!(t, Target::Direct("http://127.0.0.1:9/health".parse().unwrap()));
    }

    #[tokio::test]
    async fn any_other_host_goes_through_the_proxy_without_its_port() {
        // Resolvable, but not the Service: a hint for the path only.
        for other in ["http://localhost:3000/mcp", "http://127.0.0.1:1/mcp", "http://example.com:1/mcp"] {
            let u: Url = other.parse().unwrap();
            let t = choose("ns", "svc", &["10.96.0.9".into()], Some(80), Some(&u), None).await;
            assert_eq!(t, Target::ApiProxy("/api/v1/namespaces/ns/services/svc:80/proxy/mcp".into()), "{other}");
            let t = choose("ns", "svc", &[], None, Some(&u), None).await;
            assert_eq!(t, Target::ApiProxy("/api/v1/namespaces/ns/services/svc/proxy/mcp".into()), "{other}");
        }
    }

    #[test]
    fn only_the_services_names_and_cluster_ips_name_it() {
        let ips = vec!["10.96.0.9".to_string(), "fd00::9".to_string()];
        for yes in [
            "http://svc/",
            "http://svc.ns:80/",
            "https://svc.ns.svc/x",
            "http://SVC.ns.svc.cluster.local./",
            "http://10.96.0.9:3000/",
            "http://[fd00::9]/",
        ] {
            assert!(names_the_service(&yes.parse().unwrap(), "ns", "svc", &ips), "{yes}");
        }
        for no in [
            "http://svc.other/",
            "http://svc.ns.svc.evil.com/",
            "http://evil-svc/",
            "ftp://svc/",
            "http://user:pw@svc/",
            "http://10.96.0.10/",
            "http://[fd00::10]/",
            "http://127.0.0.1/",
        ] {
            assert!(!names_the_service(&no.parse().unwrap(), "ns", "svc", &ips), "{no}");
        }
    }

    #[tokio::test]
    async fn cluster_dns_goes_through_the_proxy() {
        let u: Url = "http://sandfly-mcp-server.cortex-system.svc.cluster.local:3000/mcp".parse().unwrap();
        let t = choose("cortex-system", "sandfly-mcp-server", &[], None, Some(&u), None).await;
        assert_eq!(
            t,
            Target::ApiProxy("/api/v1/namespaces/cortex-system/services/sandfly-mcp-server:3000/proxy/mcp".into())
        );
        assert_eq!(t.route(), Route::ApiProxy);
    }

    #[tokio::test]
    async fn no_url_goes_through_the_proxy() {
        let t = choose("ns", "web", &[], Some(8080), None, Some("healthz")).await;
        assert_eq!(t, Target::ApiProxy("/api/v1/namespaces/ns/services/web:8080/proxy/healthz".into()));
        assert_eq!(proxy_path("ns", "web", None, None, "/"), "/api/v1/namespaces/ns/services/web/proxy/");
    }
}
