//! The address guard every outbound request shares (ServiceNow instances, notification
//! webhooks): which addresses may be called, and a reqwest client pinned to checked addresses,
//! with no proxy, no redirects and a timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum AddrClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Cgnat,
    Reserved,
}

impl AddrClass {
    pub fn describe(&self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::LinkLocal => "link-local or metadata",
            AddrClass::Cgnat => "carrier-grade NAT",
            AddrClass::Reserved => "reserved",
        }
    }
}

pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_private() {
        AddrClass::Private
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if a == 100 && (64..128).contains(&b) {
        AddrClass::Cgnat
    } else if a == 0
        || ip.is_multicast()
        || a >= 240
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let seg = ip.segments();
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return AddrClass::Reserved;
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0) {
        return classify_v4(embedded_v4(ip));
    }
    // IPv4-compatible (::/96, deprecated): the embedded address, and reserved either way.
    if seg[0..6].iter().all(|s| *s == 0) {
        return match classify_v4(embedded_v4(ip)) {
            AddrClass::Public => AddrClass::Reserved,
            other => other,
        };
    }
    // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return match classify_v4(v4) {
            AddrClass::Public => AddrClass::Reserved,
            other => other,
        };
    }
    if (seg[0] & 0xfe00) == 0xfc00 {
        // Unique local, which also holds fd00:ec2::254, the AWS metadata address.
        AddrClass::Private
    } else if (seg[0] & 0xffc0) == 0xfe80 {
        AddrClass::LinkLocal
    } else if (seg[0] & 0xffc0) == 0xfec0 {
        // Site-local (fec0::/10, deprecated): an internal network.
        AddrClass::Private
    } else if (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        || (seg[0] == 0x0100 && seg[1..4].iter().all(|s| *s == 0))
        || (seg[0] == 0x2001 && seg[1] < 0x0200)
    {
        // Local-use NAT64 (64:ff9b:1::/48), documentation, discard-only, IETF protocol
        // assignments (Teredo, ORCHID and others).
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

/// Which hosts and addresses outbound requests of one kind may reach.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Hosts an admin allowed explicitly: they may resolve to loopback, private and CGNAT
    /// addresses (never link-local / metadata or reserved ones).
    pub allowed_hosts: Vec<String>,
    /// Test setting: plain http, loopback and private addresses.
    pub allow_insecure: bool,
    pub timeout: Duration,
}

/// Largest answer read from a webhook (it is discarded).
pub const MAX_ANSWER: usize = 64 * 1024;

impl Guard {
    pub fn is_listed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.allowed_hosts.iter().any(|h| {
            h.trim()
                .trim_end_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(host.trim_start_matches('[').trim_end_matches(']'))
        })
    }

    /// Checks a URL without touching the network: https (http only in insecure mode), no
    /// credentials, a host; a literal address must pass [`Guard::check_ip`].
    pub fn check_url(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {}
            "http" => return Err("plain http is not allowed: use https".into()),
            other => return Err(format!("scheme {other} is not allowed")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL may not carry credentials".into());
        }
        let listed = url.host_str().is_some_and(|h| self.is_listed(h));
        match url.host() {
            None => return Err("the URL has no host".into()),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip), listed)?,
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip), listed)?,
            Some(Host::Domain(_)) => {}
        }
        Ok(url)
    }

    /// Whether an address may be called: public ones always; loopback and private ones in
    /// insecure mode or for a listed host (CGNAT too); link-local, metadata and reserved never.
    pub fn check_ip(&self, ip: IpAddr, listed: bool) -> Result<(), String> {
        let class = classify(ip);
        match class {
            AddrClass::Public => Ok(()),
            AddrClass::Loopback | AddrClass::Private if self.allow_insecure || listed => Ok(()),
            AddrClass::Cgnat if listed => Ok(()),
            _ => Err(format!("{ip} is a {} address", class.describe())),
        }
    }

    /// A client for one URL: checks it, resolves its host, checks every address and pins the
    /// connection to them; no proxy (it would resolve the name again), no redirects.
    pub async fn client_for(&self, url: &Url) -> Result<reqwest::Client, String> {
        let checked = self.check_url(url.as_str())?;
        let host = checked.host().ok_or("the URL has no host")?.to_owned();
        let port = checked
            .port_or_known_default()
            .ok_or("the URL has no port")?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .user_agent(concat!("Glidepath/", env!("CARGO_PKG_VERSION")));
        if let Host::Domain(name) = &host {
            let listed = self.is_listed(name);
            let addrs = resolve(name, port, self.timeout).await?;
            for addr in &addrs {
                self.check_ip(addr.ip(), listed)?;
            }
            builder = builder.resolve_to_addrs(name, &addrs);
        }
        builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))
    }
}

/// `https://host[:port]/…`: a URL as it may be shown, without its path or query (which often
/// hold a token).
pub fn label(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
        Err(_) => "(not a URL)".into(),
    }
}

pub async fn resolve(name: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let lookup = tokio::net::lookup_host((name, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(timeout, lookup).await {
        Err(_) => {
            return Err(format!(
                "resolving {name} took over {} ms",
                timeout.as_millis()
            ));
        }
        Ok(Err(_)) => return Err(format!("cannot resolve {name}")),
        Ok(Ok(addrs)) => addrs.collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{name} has no address"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv6_ranges_that_embed_or_reach_internal_networks_are_not_public() {
        assert_eq!(class("::7f00:1"), AddrClass::Loopback);
        assert_eq!(class("::a9fe:a9fe"), AddrClass::LinkLocal);
        assert_eq!(class("::808:808"), AddrClass::Reserved);
        assert_eq!(class("2002:7f00:1::"), AddrClass::Loopback);
        assert_eq!(class("2002:a9fe:a9fe::1"), AddrClass::LinkLocal);
        assert_eq!(class("2002:0a00:0001::1"), AddrClass::Private);
        assert_eq!(class("2002:808:808::1"), AddrClass::Reserved);
        assert_eq!(class("fec0::1"), AddrClass::Private);
        assert_eq!(class("64:ff9b:1::a00:1"), AddrClass::Reserved);
        assert_eq!(class("64:ff9b::a9fe:a9fe"), AddrClass::LinkLocal);
        assert_eq!(class("::ffff:169.254.169.254"), AddrClass::LinkLocal);
        assert_eq!(class("fd00:ec2::254"), AddrClass::Private);
        assert_eq!(class("2001:db8::1"), AddrClass::Reserved);
        assert_eq!(class("2606:4700::1111"), AddrClass::Public);
        assert_eq!(class("1.1.1.1"), AddrClass::Public);
        assert_eq!(class("100.64.0.1"), AddrClass::Cgnat);
    }

    #[test]
    fn urls_are_checked_and_labels_hide_the_path() {
        let guard = Guard {
            allowed_hosts: vec!["10.1.2.3".into()],
            allow_insecure: false,
            timeout: Duration::from_secs(1),
        };
        assert!(guard.check_url("https://chat.example.com/hook").is_ok());
        assert!(guard.check_url("http://chat.example.com/hook").is_err());
        assert!(guard.check_url("https://127.0.0.1/x").is_err());
        assert!(guard.check_url("https://169.254.169.254/x").is_err());
        assert!(guard.check_url("https://[::ffff:10.0.0.1]/x").is_err());
        assert!(guard.check_url("https://10.1.2.3/x").is_ok());
        assert_eq!(
            label("https://chat.example.com/hooks/T0KEN?secret=1"),
            "https://chat.example.com/…"
        );
    }
}
