//! The client's address: the TCP peer, or, when the peer is a reverse proxy listed in
//! GLIDEPATH_TRUSTED_PROXIES, the address that proxy names in `X-Forwarded-For`. From any other
//! peer the header is ignored, so a client cannot pick the address its sign-ins are counted on.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The address a request came from, as far as it can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

fn trusted(proxies: &[IpNet], addr: IpAddr) -> bool {
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    };
    proxies.iter().any(|net| net.contains(&addr))
}

/// The peer, or, behind trusted proxies, the right-most `X-Forwarded-For` entry that is not one
/// of them (entries to its left were written by the client and prove nothing).
pub fn client_addr(req: &HttpRequest, proxies: &[IpNet]) -> ClientAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    ClientAddr(resolve(
        peer,
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok()),
        proxies,
    ))
}

fn resolve<'a>(peer: IpAddr, headers: impl Iterator<Item = &'a str>, proxies: &[IpNet]) -> IpAddr {
    if !trusted(proxies, peer) {
        return peer;
    }
    let hops: Vec<&str> = headers.flat_map(|h| h.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(addr) = hop.parse::<IpAddr>() else {
            // Garbage in the chain: stop at the last address a trusted proxy vouched for.
            break;
        };
        client = addr;
        if !trusted(proxies, addr) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peer_header_ignored() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let got = resolve(peer, ["1.2.3.4"].into_iter(), &nets(&["10.0.0.0/8"]));
        assert_eq!(got, peer);
    }

    #[test]
    fn trusted_peer_rightmost_untrusted_hop() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let got = resolve(
            peer,
            ["6.6.6.6, 198.51.100.7", "10.0.0.2"].into_iter(),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn trusted_peer_without_header_is_client() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            resolve(peer, std::iter::empty(), &nets(&["10.0.0.1/32"])),
            peer
        );
        let got = resolve(peer, ["junk"].into_iter(), &nets(&["10.0.0.1/32"]));
        assert_eq!(got, peer);
    }
}
