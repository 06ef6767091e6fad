//! Where a webhook may send: checked when a subscription is created and again before every attempt.
//!
//! Unless private targets are allowed (`BERTH_WEBHOOKS_ALLOW_PRIVATE=true`, `[webhooks] allow_private`):
//! only `https://`, and only public addresses — the host is resolved, every address it resolves to must be
//! public (not loopback, private, link-local, unique-local, shared, unspecified, multicast, broadcast or
//! documentation), and the request then goes to the address that was checked, so a DNS answer that changes
//! between the check and the connection (DNS rebinding) cannot redirect it. Credentials in the URL are
//! refused always (they would show in listings).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// A URL that passed the checks, with the address to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub host: String,
    pub addr: SocketAddr,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook URL {url}: {why}")]
pub struct Refused {
    pub url: String,
    pub why: String,
}

fn refused(url: &str, why: impl Into<String>) -> Refused {
    Refused { url: url.to_string(), why: why.into() }
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first & 0xffc0) == 0xfec0 // site local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64, which may reach private IPv4
}

/// Checks `url`'s form: a scheme berth may use, a host, no credentials. Resolution comes later.
pub fn parse(url: &str, allow_private: bool) -> Result<Url, Refused> {
    let parsed = Url::parse(url).map_err(|e| refused(url, format!("not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(refused(
                url,
                "plain http is refused; use https, or allow it with BERTH_WEBHOOKS_ALLOW_PRIVATE=true \
                 ([webhooks] allow_private = true)",
            ));
        }
        other => return Err(refused(url, format!("scheme {other:?} is not http or https"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refused(url, "no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused(url, "credentials in the URL are refused; authenticate with the signature"));
    }
    if parsed.fragment().is_some() {
        return Err(refused(url, "a fragment has no meaning here"));
    }
    if url.len() > 2048 {
        return Err(refused(url, "longer than 2048 characters"));
    }
    Ok(parsed)
}

/// Checks `url` and resolves its host: the address to connect to is the first one, and with
/// `allow_private` off every address must be public.
pub async fn resolve(url: &str, allow_private: bool) -> Result<Target, Refused> {
    let parsed = parse(url, allow_private)?;
    let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| refused(url, format!("cannot resolve {host}: {e}")))?
            .collect(),
    };
    let Some(first) = addrs.first().copied() else {
        return Err(refused(url, format!("{host} resolves to no address")));
    };
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(refused(
            url,
            format!(
                "{host} resolves to {}, which is not a public address; allow private targets with \
                 BERTH_WEBHOOKS_ALLOW_PRIVATE=true ([webhooks] allow_private = true)",
                bad.ip()
            ),
        ));
    }
    Ok(Target { url: parsed, host, addr: first })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip(private)), "{private} is not public");
        }
        for public in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn checks_the_form() {
        assert!(parse("https://hooks.example/x", false).is_ok());
        assert!(parse("http://hooks.example/x", false).unwrap_err().why.contains("plain http"));
        assert!(parse("http://hooks.example/x", true).is_ok());
        assert!(parse("ftp://hooks.example/x", true).is_err());
        assert!(parse("https://user:pw@hooks.example/x", true).unwrap_err().why.contains("credentials"));
        assert!(parse("not a url", true).is_err());
    }

    #[tokio::test]
    async fn refuses_private_addresses_unless_allowed() {
        let e = resolve("https://127.0.0.1:8443/hook", false).await.unwrap_err();
        assert!(e.why.contains("not a public address"), "{e}");
        assert!(resolve("https://[::1]/hook", false).await.is_err());
        assert!(resolve("https://localhost/hook", false).await.is_err(), "names are resolved before the check");
        let t = resolve("http://127.0.0.1:8080/hook", true).await.unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        let t = resolve("https://[::1]/hook", true).await.unwrap();
        assert_eq!((t.host.as_str(), t.addr.port()), ("::1", 443));
    }
}
