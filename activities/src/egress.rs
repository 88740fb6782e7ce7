//! The egress guard: every request longrun makes on a tenant's behalf (the `http_fetch` tool,
//! webhook tools, completion webhooks, usage alerts) goes through one guarded client that
//! never reaches an address inside the operator's network (private, loopback, link-local,
//! cloud metadata, ...) unless the operator's allowlist names it.
//!
//! The check is made on the address actually connected to: host names resolve through
//! [`GuardedResolver`], which hands reqwest only the addresses it approved, so a second DNS
//! answer cannot swap in another one. IP-literal URLs never reach a resolver, so
//! [`check_url`] judges them before sending, and the redirect policy judges every hop the
//! same way.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::Url;

/// Host names of cloud metadata services, refused unless allowlisted.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata"];

/// Where outbound requests may go and how much they may take: the operator's allowlist
/// (`LONGRUN_HTTP_FETCH_ALLOW`) and the caps of one exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct EgressPolicy {
    /// Targets reachable even though their addresses are refused by default.
    pub allow: Vec<AllowRule>,
    /// Largest response body read, in bytes.
    pub max_bytes: usize,
    /// Time allowed for the whole exchange, body included.
    pub timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: usize,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(20),
            max_redirects: 5,
        }
    }
}

/// One entry of the operator's allowlist (`LONGRUN_HTTP_FETCH_ALLOW`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// An address block; a single address is a full-length prefix.
    Net { addr: IpAddr, prefix: u8 },
    /// One host name, lower-case.
    Host(String),
    /// `*.example.com`: every name below `example.com`, not `example.com` itself.
    Suffix(String),
}

impl AllowRule {
    fn matches_ip(&self, ip: IpAddr) -> bool {
        // `::ffff:10.0.0.1` is 10.0.0.1 to an IPv4 rule; the rule itself is taken as written.
        self.matches_ip_as_is(ip) || self.matches_ip_as_is(ip.to_canonical())
    }

    fn matches_ip_as_is(&self, ip: IpAddr) -> bool {
        let AllowRule::Net { addr, prefix } = self else {
            return false;
        };
        match (*addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn matches_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        match self {
            AllowRule::Host(name) => host == *name,
            AllowRule::Suffix(parent) => host
                .strip_suffix(parent.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            AllowRule::Net { .. } => false,
        }
    }
}

/// Parses a comma-separated allowlist: CIDRs (`10.0.0.0/8`, `::1/128`), single addresses,
/// host names (exact, case-insensitive) and `*.example.com` suffixes.
pub fn parse_allowlist(text: &str) -> Result<Vec<AllowRule>, String> {
    let mut rules = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        rules.push(parse_rule(item).ok_or_else(|| {
            format!("{item:?} is not a CIDR, an IP address, a host name or *.domain")
        })?);
    }
    Ok(rules)
}

fn parse_rule(item: &str) -> Option<AllowRule> {
    let unbracket = |s: &str| s.trim_start_matches('[').trim_end_matches(']').to_string();
    if let Some((addr, prefix)) = item.split_once('/') {
        let addr: IpAddr = unbracket(addr).parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let longest = if addr.is_ipv4() { 32 } else { 128 };
        return (prefix <= longest).then_some(AllowRule::Net { addr, prefix });
    }
    if let Ok(addr) = unbracket(item).parse::<IpAddr>() {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        return Some(AllowRule::Net { addr, prefix });
    }
    let (suffix, name) = match item.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, item),
    };
    let name = normalize_host(name);
    let label_ok =
        |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return None;
    }
    Some(if suffix {
        AllowRule::Suffix(name)
    } else {
        AllowRule::Host(name)
    })
}

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Why `ip` is refused by default, or `None` if it is a public address. IPv6 forms that
/// embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => v4_reason(ip),
        IpAddr::V6(ip) => v6_reason(ip),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    const BLOCKS: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "a \"this network\" address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (CGNAT) address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 169, 254], 32, "the cloud metadata address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol assignment address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    let bits = u32::from(ip);
    BLOCKS.iter().find_map(|(net, prefix, reason)| {
        let mask = u32::MAX << (32 - prefix);
        (bits & mask == u32::from_be_bytes(*net) & mask).then_some(*reason)
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    const BLOCKS: &[(u128, u32, &str)] = &[
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a site-local address"),
        (0xfc00 << 112, 7, "a unique-local address"),
        (0xff00 << 112, 8, "a multicast address"),
        (0x0064_ff9b_0001 << 80, 48, "a local-use NAT64 address"),
        (0x2001_0db8 << 96, 32, "a documentation address"),
        (0x2001_0000 << 96, 32, "a Teredo tunnel address"),
        (0x0100 << 112, 64, "a discard-only address"),
    ];
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let bits = u128::from(ip);
    let embedded = |prefix: u128, len: u32, shift: u32| {
        (bits >> (128 - len) == prefix >> (128 - len))
            .then(|| Ipv4Addr::from((bits >> shift) as u32))
    };
    let v4 = embedded(0xffff << 32, 96, 0) // ::ffff:a.b.c.d, mapped
        .or_else(|| embedded(0xffff << 48, 96, 0)) // ::ffff:0:a.b.c.d, translated
        .or_else(|| embedded(0, 96, 0)) // ::a.b.c.d, compatible
        .or_else(|| embedded(0x0064_ff9b << 96, 96, 0)) // NAT64
        .or_else(|| embedded(0x2002 << 112, 16, 80)); // 6to4
    if let Some(v4) = v4 {
        return v4_reason(v4);
    }
    BLOCKS.iter().find_map(|(net, prefix, reason)| {
        let mask = u128::MAX << (128 - prefix);
        (bits & mask == net & mask).then_some(*reason)
    })
}

/// A target refused by the guard; its text is what the model sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(String);

/// The allowlist and the default refusals, shared by the resolver and the redirect policy.
#[derive(Debug)]
struct Guard {
    allow: Vec<AllowRule>,
}

impl Guard {
    fn allows_host(&self, host: &str) -> bool {
        self.allow.iter().any(|rule| rule.matches_host(host))
    }

    /// Why `ip` is refused, or `None` if it is public or allowlisted.
    fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow.iter().any(|rule| rule.matches_ip(ip)) {
            return None;
        }
        forbidden_reason(ip)
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        match self.refusal(ip) {
            Some(reason) => Err(Refused(format!("{ip} is {reason}"))),
            None => Ok(()),
        }
    }

    fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            let scheme = url.scheme();
            return Err(Refused(format!(
                "{scheme}: URLs are not fetched, only http and https"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused(
                "URLs with a user name or password are not fetched".into(),
            ));
        }
        let Some(host) = url.host_str() else {
            return Err(Refused("the URL has no host".into()));
        };
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return self.check_ip(ip);
        }
        self.check_name(host)
    }

    fn check_name(&self, host: &str) -> Result<(), Refused> {
        if !self.allows_host(host) && METADATA_HOSTS.contains(&normalize_host(host).as_str()) {
            return Err(Refused(format!("{host} is a cloud metadata service")));
        }
        Ok(())
    }
}

/// Judges a URL before it is sent: scheme, user info, IP literals and metadata host names.
/// Names are judged again, on their addresses, by the guarded client's resolver.
pub fn check_url(settings: &EgressPolicy, url: &str) -> Result<Url, Refused> {
    let parsed = Url::parse(url).map_err(|err| Refused(format!("{url:?} is not a URL: {err}")))?;
    Guard {
        allow: settings.allow.clone(),
    }
    .check_url(&parsed)?;
    Ok(parsed)
}

/// Resolves names with the system resolver and hands reqwest only the approved addresses.
struct GuardedResolver {
    guard: Arc<Guard>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(resolve_checked(
            Arc::clone(&self.guard),
            name.as_str().to_string(),
        ))
    }
}

async fn resolve_checked(
    guard: Arc<Guard>,
    host: String,
) -> Result<reqwest::dns::Addrs, Box<dyn StdError + Send + Sync>> {
    guard.check_name(&host)?;
    // A name the operator allowlisted may resolve anywhere, private networks included.
    let trusted = guard.allows_host(&host);
    let mut kept = Vec::new();
    let mut refusal = None;
    for addr in tokio::net::lookup_host((host.as_str(), 0)).await? {
        match guard.refusal(addr.ip()) {
            Some(reason) if !trusted => refusal = refusal.or(Some((addr.ip(), reason))),
            _ => kept.push(addr),
        }
    }
    if kept.is_empty() {
        return Err(match refusal {
            Some((ip, reason)) => Box::new(Refused(format!(
                "{host} resolves to {ip}, which is {reason}"
            ))),
            None => format!("{host} resolves to no address").into(),
        });
    }
    Ok(Box::new(kept.into_iter()))
}

/// An HTTP client that connects only to approved addresses and follows only approved
/// redirects. IP-literal URLs bypass resolvers: judge them with [`check_url`] first.
pub fn guarded_client(settings: &EgressPolicy) -> Result<reqwest::Client, reqwest::Error> {
    let guard = Arc::new(Guard {
        allow: settings.allow.clone(),
    });
    let redirect_guard = Arc::clone(&guard);
    let max_redirects = settings.max_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_redirects {
            let refused = Refused(format!("more than {max_redirects} redirects"));
            return attempt.error(refused);
        }
        match redirect_guard.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    reqwest::Client::builder()
        // An environment proxy would connect on our behalf, past the resolver.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { guard }))
        .redirect(policy)
        .referer(false)
        .connect_timeout(settings.timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("longrun/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Explains a transport failure: the guard's refusal as it is, anything else after `context`.
pub(crate) fn failure_message(context: &str, err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(cause) = current {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    format!("{context}: {}", parts.join(": "))
}

/// Reads at most `max_bytes` of a response body; `true` if more was left unread.
pub(crate) async fn read_capped(
    response: reqwest::Response,
    max_bytes: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = max_bytes - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// A loopback HTTP/1.1 server for tests: one request per connection, canned answers.
#[cfg(test)]
pub(crate) mod test_server {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// Binds a port on `ip` (any 127/8 address works on Linux).
    pub(crate) async fn bind(ip: &str) -> (TcpListener, u16) {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        (listener, port)
    }

    /// Answers every request with `respond(request)`; the raw requests come out of the
    /// returned channel, in order.
    pub(crate) fn serve(
        listener: TcpListener,
        respond: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
    ) -> mpsc::UnboundedReceiver<String> {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_request(&mut stream).await;
                let answer = respond(&request);
                let _ = sender.send(request);
                // The client may hang up early (a truncated read): that is not a failure.
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            }
        });
        receiver
    }

    async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return text;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&data).to_string(),
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// A raw HTTP/1.1 response that closes the connection.
    pub(crate) fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
        head.push_str(&format!("content-length: {}\r\n", body.len()));
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_addresses_by_their_range() {
        let table: &[(&str, Option<&str>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("0.1.2.3", Some("a \"this network\" address")),
            ("10.1.2.3", Some("a private address")),
            ("100.64.0.1", Some("a shared (CGNAT) address")),
            ("100.127.255.255", Some("a shared (CGNAT) address")),
            ("127.0.0.1", Some("a loopback address")),
            ("127.255.0.9", Some("a loopback address")),
            ("169.254.169.254", Some("the cloud metadata address")),
            ("169.254.1.1", Some("a link-local address")),
            ("172.16.0.1", Some("a private address")),
            ("172.31.255.255", Some("a private address")),
            ("192.0.2.5", Some("a documentation address")),
            ("192.168.1.1", Some("a private address")),
            ("198.18.0.1", Some("a benchmarking address")),
            ("198.19.255.255", Some("a benchmarking address")),
            ("224.0.0.1", Some("a multicast address")),
            ("239.255.255.250", Some("a multicast address")),
            ("240.0.0.1", Some("a reserved or broadcast address")),
            ("255.255.255.255", Some("a reserved or broadcast address")),
            ("2606:4700:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("::", Some("the unspecified address")),
            ("::1", Some("a loopback address")),
            ("fe80::1", Some("a link-local address")),
            ("febf::1", Some("a link-local address")),
            ("fec0::1", Some("a site-local address")),
            ("fc00::1", Some("a unique-local address")),
            ("fd00:ec2::254", Some("a unique-local address")),
            ("ff02::1", Some("a multicast address")),
            ("::ffff:127.0.0.1", Some("a loopback address")),
            ("::ffff:169.254.169.254", Some("the cloud metadata address")),
            ("::ffff:10.0.0.1", Some("a private address")),
            ("::ffff:0:10.0.0.1", Some("a private address")),
            ("::127.0.0.1", Some("a loopback address")),
            ("::192.168.0.1", Some("a private address")),
            ("64:ff9b::7f00:1", Some("a loopback address")),
            ("64:ff9b::a9fe:a9fe", Some("the cloud metadata address")),
            ("64:ff9b:1::1", Some("a local-use NAT64 address")),
            ("2002:7f00:1::", Some("a loopback address")),
            ("2002:c0a8:101::1", Some("a private address")),
            ("2001:db8::1", Some("a documentation address")),
        ];
        for (ip, expected) in table {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden_reason(ip), *expected, "{ip}");
        }
    }

    #[test]
    fn parses_an_operator_allowlist() {
        let rules = parse_allowlist(
            " 10.0.0.0/8, ::1/128,192.168.1.7, Intranet.Example.COM., *.corp.example ,",
        )
        .unwrap();
        assert_eq!(
            rules,
            vec![
                AllowRule::Net {
                    addr: "10.0.0.0".parse().unwrap(),
                    prefix: 8
                },
                AllowRule::Net {
                    addr: "::1".parse().unwrap(),
                    prefix: 128
                },
                AllowRule::Net {
                    addr: "192.168.1.7".parse().unwrap(),
                    prefix: 32
                },
                AllowRule::Host("intranet.example.com".into()),
                AllowRule::Suffix("corp.example".into()),
            ]
        );
        assert_eq!(parse_allowlist(""), Ok(vec![]));
        for bad in [
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/x",
            "host:8080",
            "*.",
            "a..b",
            "foo*.com",
            "http://x",
            "-/-",
        ] {
            assert!(parse_allowlist(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_rules_match_addresses_and_names() {
        let rules =
            parse_allowlist("10.0.0.0/8,fd00::/8,intranet.example.com,*.corp.example").unwrap();
        let guard = Guard { allow: rules };
        for ip in ["10.9.8.7", "::ffff:10.0.0.1", "fd12::1"] {
            assert_eq!(guard.refusal(ip.parse().unwrap()), None, "{ip}");
        }
        assert_eq!(
            guard.refusal("11.0.0.1".parse().unwrap()),
            None,
            "public anyway"
        );
        for ip in ["172.16.0.1", "192.168.0.1", "fe80::1", "::ffff:127.0.0.1"] {
            assert!(guard.refusal(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for host in [
            "intranet.example.com",
            "INTRANET.example.com.",
            "a.corp.example",
            "b.a.corp.example",
        ] {
            assert!(guard.allows_host(host), "{host}");
        }
        for host in [
            "example.com",
            "corp.example",
            "xcorp.example",
            "intranet.example.com.evil",
        ] {
            assert!(!guard.allows_host(host), "{host}");
        }
    }
}

#[cfg(test)]
mod properties;
