//! Which URL a node advertises when none is configured: the bound address, or, when bound
//! to all interfaces, the address this host's name resolves to (in a container or a pod,
//! its own IP), falling back to loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `http://<ip>:<port>` for a node listening on `local`, unless `configured` is given.
pub async fn advertised_url(configured: Option<&str>, local: SocketAddr) -> String {
    if let Some(url) = configured {
        return url.trim_end_matches('/').to_string();
    }
    let ip = if local.ip().is_unspecified() {
        host_ip(local.port()).await
    } else {
        local.ip()
    };
    format!("http://{}", SocketAddr::new(ip, local.port()))
}

async fn host_ip(port: u16) -> IpAddr {
    let Ok(name) = nix::unistd::gethostname() else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    let Some(name) = name.to_str().map(str::to_string) else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    let found = match tokio::net::lookup_host(format!("{name}:{port}")).await {
        Ok(addrs) => addrs
            .map(|a| a.ip())
            .find(|ip| ip.is_ipv4() && !ip.is_loopback()),
        Err(_) => None,
    };
    found.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}
