//! Property tests of the address guard: every address inside a refused range is refused
//! (however a URL spells it) unless allowlisted, and public ones pass.

use proptest::prelude::*;

use super::*;

/// The IPv4 blocks refused by default, as (network, prefix length), written out apart
/// from the guard's own table: the oracle below and the generators use them.
const V4_BLOCKS: [([u8; 4], u8); 16] = [
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 169, 254], 32),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 88, 99, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

/// Native IPv6 blocks refused by default (embedded IPv4 forms are judged by their
/// IPv4 address).
const V6_BLOCKS: [(u128, u8); 10] = [
    (0, 128),
    (1, 128),
    (0xfe80 << 112, 10),
    (0xfec0 << 112, 10),
    (0xfc00 << 112, 7),
    (0xff00 << 112, 8),
    (0x0064_ff9b_0001 << 80, 48),
    (0x2001_0db8 << 96, 32),
    (0x2001_0000 << 96, 32),
    (0x0100 << 112, 64),
];

/// Whether an IPv4 address should be refused, from the standard library's
/// classification where it has one.
fn v4_refused(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || ip.is_documentation()
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || ip.is_multicast()
        || a >= 240
}

/// The IPv4 address an IPv6 one carries: mapped, translated, compatible, NAT64, 6to4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, high, low, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        _ => None,
    }
}

fn v6_refused(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        // `::` and `::1` are 0.0.0.0 and 0.0.0.1 that way: refused either way.
        return v4_refused(v4);
    }
    let s = ip.segments();
    ip.is_multicast()
        || s[0] & 0xfe00 == 0xfc00
        || s[0] & 0xffc0 == 0xfe80
        || s[0] & 0xffc0 == 0xfec0
        || (s[0], s[1], s[2]) == (0x64, 0xff9b, 1)
        || (s[0], s[1]) == (0x2001, 0xdb8)
        || (s[0], s[1]) == (0x2001, 0)
        || s[..4] == [0x100, 0, 0, 0]
}

fn refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => v4_refused(ip),
        IpAddr::V6(ip) => v6_refused(ip),
    }
}

/// An address inside `net/prefix`, the host bits random.
fn inside_v4(net: [u8; 4], prefix: u8, host: u32) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from((u32::from_be_bytes(net) & mask) | (host & !mask))
}

fn inside_v6(net: u128, prefix: u8, host: u128) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from((net & mask) | (host & !mask))
}

/// IPv4 addresses inside each refused block, just around each block, and anywhere.
fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        2 => (prop::sample::select(V4_BLOCKS.to_vec()), any::<u32>())
            .prop_map(|((net, prefix), host)| inside_v4(net, prefix, host)),
        1 => (prop::sample::select(V4_BLOCKS.to_vec()), any::<bool>()).prop_map(
            |((net, prefix), after)| {
                let first = u32::from_be_bytes(net);
                let size = 1u64 << (32 - prefix);
                Ipv4Addr::from(if after {
                    (u64::from(first) + size).min(u64::from(u32::MAX)) as u32
                } else {
                    first.saturating_sub(1)
                })
            }
        ),
        2 => any::<u32>().prop_map(Ipv4Addr::from),
    ]
}

/// A refused IPv4 address.
fn refused_v4() -> impl Strategy<Value = Ipv4Addr> {
    (prop::sample::select(V4_BLOCKS.to_vec()), any::<u32>())
        .prop_map(|((net, prefix), host)| inside_v4(net, prefix, host))
}

/// A public IPv4 address.
fn public_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("public", |ip| !v4_refused(*ip))
}

/// `v4` inside IPv6, in one of the forms that carry an IPv4 address.
fn embed(v4: Ipv4Addr, form: u8, noise: u128) -> Ipv6Addr {
    let v4 = u128::from(u32::from(v4));
    Ipv6Addr::from(match form % 5 {
        0 => (0xffff << 32) | v4,
        1 => (0xffff << 48) | v4,
        2 => v4,
        3 => (0x0064_ff9b << 96) | v4,
        // 6to4: 2002:AABB:CCDD::/48, the rest any subnet and interface.
        _ => (0x2002 << 112) | (v4 << 80) | (noise & ((1 << 80) - 1)),
    })
}

fn any_v6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        2 => (prop::sample::select(V6_BLOCKS.to_vec()), any::<u128>())
            .prop_map(|((net, prefix), host)| inside_v6(net, prefix, host)),
        2 => (any_v4(), any::<u8>(), any::<u128>())
            .prop_map(|(v4, form, noise)| embed(v4, form, noise)),
        // Global unicast, where almost all public addresses are.
        1 => any::<u128>().prop_map(|bits| Ipv6Addr::from((0x2000 << 112) | (bits >> 3))),
        1 => any::<u128>().prop_map(Ipv6Addr::from),
    ]
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any_v4().prop_map(IpAddr::V4), any_v6().prop_map(IpAddr::V6)]
}

/// A refused address of either family, native or embedded.
fn refused_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        refused_v4().prop_map(IpAddr::V4),
        (prop::sample::select(V6_BLOCKS.to_vec()), any::<u128>())
            .prop_map(|((net, prefix), host)| IpAddr::V6(inside_v6(net, prefix, host))),
        (refused_v4(), any::<u8>(), any::<u128>())
            .prop_map(|(v4, form, noise)| IpAddr::V6(embed(v4, form, noise))),
    ]
}

/// The ways a URL may spell an IPv4 address that WHATWG parsers accept.
fn spell_v4(ip: Ipv4Addr, form: u8) -> String {
    let n = u32::from(ip);
    let [a, b, c, d] = ip.octets();
    match form % 9 {
        0 => ip.to_string(),
        1 => n.to_string(),
        2 => format!("0x{n:x}"),
        3 => format!("0{n:o}"),
        4 => format!("0x{a:x}.0x{b:X}.0x{c:x}.0x{d:x}"),
        5 => format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
        6 => format!("{a}.{b}.{}", (u32::from(c) << 8) | u32::from(d)),
        7 => format!("0x{a:x}.{}", n & 0x00ff_ffff),
        _ => format!("{ip}."),
    }
}

/// The ways a URL may spell an IPv6 address.
fn spell_v6(ip: Ipv6Addr, form: u8) -> String {
    match (form % 3, embedded_v4(ip)) {
        (1, Some(v4)) if ip.segments()[0] != 0x2002 => {
            let s = ip.segments();
            let head: Vec<String> = s[..6].iter().map(|x| format!("{x:x}")).collect();
            format!("[{}:{v4}]", head.join(":"))
        }
        (2, _) => {
            let full: Vec<String> = ip.segments().iter().map(|x| format!("{x:04X}")).collect();
            format!("[{}]", full.join(":"))
        }
        _ => format!("[{ip}]"),
    }
}

fn spell(ip: IpAddr, form: u8) -> String {
    match ip {
        IpAddr::V4(ip) => spell_v4(ip, form),
        IpAddr::V6(ip) => spell_v6(ip, form),
    }
}

/// `scheme://host[:port]/path`, the scheme in any case.
fn url_around(host: &str, scheme: &str, port: Option<u16>, path: &str) -> String {
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}/{path}")
}

fn http_scheme() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["http", "https", "HTTP", "Https", "hTtP"])
}

fn url_path() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z0-9/?=&#@:._%-]{0,16}"]
}

/// A rule allowing `ip`: the address itself or any block around it.
fn rule_for(ip: IpAddr, prefix: u8) -> AllowRule {
    match ip {
        IpAddr::V4(v4) => {
            let prefix = prefix % 33;
            AllowRule::Net {
                addr: IpAddr::V4(inside_v4(v4.octets(), prefix, 0)),
                prefix,
            }
        }
        IpAddr::V6(v6) => {
            let prefix = prefix % 129;
            AllowRule::Net {
                addr: IpAddr::V6(inside_v6(u128::from(v6), prefix, 0)),
                prefix,
            }
        }
    }
}

proptest! {
    #[test]
    fn addresses_are_refused_exactly_when_they_fall_in_a_refused_range(ip in any_ip()) {
        prop_assert_eq!(forbidden_reason(ip).is_some(), refused(ip), "{}", ip);
    }

    #[test]
    fn an_ipv4_address_inside_ipv6_is_judged_as_itself(
        v4 in any_v4(), form in any::<u8>(), noise in any::<u128>(),
    ) {
        let v6 = embed(v4, form, noise);
        prop_assert_eq!(
            forbidden_reason(IpAddr::V6(v6)).is_some(),
            forbidden_reason(IpAddr::V4(v4)).is_some(),
            "{} carrying {}", v6, v4
        );
    }

    #[test]
    fn refused_addresses_pass_only_when_allowlisted(
        ip in refused_ip(), prefix in any::<u8>(), flip in any::<u8>(),
    ) {
        prop_assert!(Guard { allow: vec![] }.refusal(ip).is_some(), "{}", ip);
        let rule = rule_for(ip, prefix);
        prop_assert_eq!(Guard { allow: vec![rule.clone()] }.refusal(ip), None, "{} under {:?}", ip, rule);
        // A block beside it (one bit of its prefix flipped) does not allow it.
        let AllowRule::Net { addr, prefix } = rule else { unreachable!() };
        if prefix > 0 {
            let beside = match addr {
                IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) ^ (1 << (32 - 1 - u32::from(flip) % u32::from(prefix))))),
                IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) ^ (1 << (128 - 1 - u32::from(flip) % u32::from(prefix))))),
            };
            let guard = Guard { allow: vec![AllowRule::Net { addr: beside, prefix }] };
            // The address may still be allowed through its IPv4 form (mapped) only
            // if that form is what the rule covers: judge the plain case.
            if ip.to_canonical() == ip {
                prop_assert!(guard.refusal(ip).is_some(), "{} under {}/{}", ip, beside, prefix);
            }
        }
    }

    #[test]
    fn an_ipv4_rule_also_allows_the_mapped_form(v4 in refused_v4(), prefix in 0u8..=32) {
        let guard = Guard { allow: vec![rule_for(IpAddr::V4(v4), prefix)] };
        prop_assert_eq!(guard.refusal(IpAddr::V6(v4.to_ipv6_mapped())), None);
    }

    #[test]
    fn allowlist_entries_parse_back_to_their_block(ip in any_ip(), prefix in any::<u8>(), bracket in any::<bool>()) {
        let AllowRule::Net { addr, prefix } = rule_for(ip, prefix) else { unreachable!() };
        let text = match addr {
            IpAddr::V6(v6) if bracket => format!("[{v6}]/{prefix}"),
            _ => format!("{addr}/{prefix}"),
        };
        prop_assert_eq!(parse_allowlist(&text), Ok(vec![AllowRule::Net { addr, prefix }]));
        let too_long = if addr.is_ipv4() { 33 + prefix } else { 129 + prefix.min(100) };
        let text = format!("{addr}/{too_long}");
        prop_assert!(parse_allowlist(&text).is_err(), "{}", text);
    }

    #[test]
    fn parsing_any_allowlist_text_never_panics(text in "[0-9a-fA-F:./\\[\\]*,x -]{0,40}|.{0,40}") {
        let _ = parse_allowlist(&text);
    }

    #[test]
    fn urls_naming_a_refused_address_are_refused_however_spelled(
        ip in refused_ip(), form in any::<u8>(), scheme in http_scheme(),
        port in prop::option::of(any::<u16>()), path in url_path(), prefix in any::<u8>(),
    ) {
        let url = url_around(&spell(ip, form), scheme, port, &path);
        let refusal = check_url(&EgressPolicy::default(), &url);
        prop_assert!(
            matches!(&refusal, Err(Refused(why)) if why.contains(" is ")),
            "{} -> {:?}", url, refusal
        );
        let allowing = EgressPolicy { allow: vec![rule_for(ip, prefix)], ..EgressPolicy::default() };
        let parsed = check_url(&allowing, &url);
        prop_assert!(parsed.is_ok(), "{} -> {:?}", url, parsed);
    }

    #[test]
    fn urls_naming_a_public_address_pass_however_spelled(
        v4 in public_v4(), as_v6 in any::<bool>(), form in any::<u8>(),
        scheme in http_scheme(), port in prop::option::of(any::<u16>()), path in url_path(),
    ) {
        let ip = if as_v6 { IpAddr::V6(v4.to_ipv6_mapped()) } else { IpAddr::V4(v4) };
        let url = url_around(&spell(ip, form), scheme, port, &path);
        let parsed = check_url(&EgressPolicy::default(), &url);
        prop_assert!(parsed.is_ok(), "{} -> {:?}", url, parsed);
        let host = parsed.unwrap().host_str().unwrap().trim_matches(['[', ']']).parse::<IpAddr>().unwrap();
        prop_assert_eq!(host.to_canonical(), IpAddr::V4(v4));
    }

    #[test]
    fn urls_with_user_info_are_refused_whatever_the_host(
        user in "[a-zA-Z0-9%.]{0,8}", password in prop::option::of("[a-zA-Z0-9%.]{0,8}"),
        host in prop_oneof![
            public_v4().prop_map(|ip| ip.to_string()),
            refused_v4().prop_map(|ip| ip.to_string()),
            Just("example.com".to_string()),
        ],
        scheme in http_scheme(),
    ) {
        prop_assume!(!user.is_empty() || password.as_deref().is_some_and(|p| !p.is_empty()));
        let info = match &password {
            Some(password) => format!("{user}:{password}@"),
            None => format!("{user}@"),
        };
        let url = format!("{scheme}://{info}{host}/");
        prop_assert!(check_url(&EgressPolicy::default(), &url).is_err(), "{}", url);
        // Not even when the host is allowlisted.
        let allowing = EgressPolicy { allow: parse_allowlist(&format!("{host},0.0.0.0/0")).unwrap(), ..EgressPolicy::default() };
        let refusal = check_url(&allowing, &url);
        prop_assert!(
            matches!(&refusal, Err(Refused(why)) if why.contains("user name or password")),
            "{} -> {:?}", url, refusal
        );
    }

    #[test]
    fn only_http_and_https_urls_are_fetched(
        scheme in prop_oneof![
            prop::sample::select(vec!["ftp", "file", "gopher", "ws", "wss", "data", "javascript", "dict", "ldap", "httpx", "htt", "http+unix", "FILE"]).prop_map(str::to_string),
            "[a-zA-Z][a-zA-Z0-9+.-]{0,8}",
        ],
        host in prop_oneof![public_v4().prop_map(|ip| ip.to_string()), Just("example.com".to_string())],
    ) {
        prop_assume!(!scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https"));
        let url = format!("{scheme}://{host}/");
        let outcome = check_url(&EgressPolicy::default(), &url);
        prop_assert!(outcome.is_err(), "{} -> {:?}", url, outcome);
    }

    #[test]
    fn whatever_passes_the_url_check_is_http_without_user_info_nor_refused_address(
        url in prop_oneof![
            ".{0,40}",
            ("[hH][tT][tT][pP][sS]?", "[:/\\\\]{0,4}", "[a-zA-Z0-9@:.\\[\\]%/\\\\#?-]{0,30}")
                .prop_map(|(scheme, sep, rest)| format!("{scheme}{sep}{rest}")),
        ],
    ) {
        if let Ok(parsed) = check_url(&EgressPolicy::default(), &url) {
            prop_assert!(matches!(parsed.scheme(), "http" | "https"), "{}", url);
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none(), "{}", url);
            let host = parsed.host_str().unwrap_or_default();
            prop_assert!(!host.is_empty(), "{}", url);
            if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
                prop_assert!(!refused(ip), "{} reaches {}", url, ip);
            }
        }
    }
}

#[test]
fn odd_spellings_of_inside_addresses_are_refused() {
    for url in [
        "http://0x7f.1/",
        "http://2130706433/",
        "http://017700000001/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::127.0.0.1]/",
        "http://[2002:7f00:1::1]/",
        "http://[::]/",
        "http://0/",
        "HTTP://169.254.169.254/latest/meta-data/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://evil.com@127.0.0.1/",
        "http://evil@127.0.0.1",
        "http://127.0.0.1:80@evil.com/",
        "http://%31%32%37.0.0.1/",
        "http://METADATA.google.internal./",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_",
    ] {
        assert!(check_url(&EgressPolicy::default(), url).is_err(), "{url}");
    }
}
