//! Where the proxy sends a client: the owner's URL with the request's path and query,
//! stamped (`pid`, `utm`) and signed for the owner when the cluster has a key.

use std::time::{SystemTime, UNIX_EPOCH};

use http::Method;

use super::ProxyContext;
use crate::cluster::intra_auth::now_secs;

/// Where a redirect to `owner` points: its URL with the request's path and query plus
/// `pid` (this proxy) and `utm` (redirect time, unix ns in base 36), signed for `owner`
/// when the cluster has a key. Built in one buffer: this runs for every object request.
pub(super) fn signed_location(
    ctx: &ProxyContext,
    method: &Method,
    uri: &http::Uri,
    owner: &crate::cluster::Snode,
) -> String {
    let utm = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut location = String::with_capacity(160);
    location.push_str(owner.url());
    let at_path = location.len();
    location.push_str(uri.path());
    match uri.query() {
        Some(q) if !q.is_empty() => {
            location.push('?');
            location.push_str(q);
            location.push('&');
        }
        _ => location.push('?'),
    }
    location.push_str("pid=");
    location.push_str(&ctx.me.daemon_id);
    location.push_str("&utm=");
    push_base36(&mut location, utm);
    if let Some(key) = &ctx.config.intra.key {
        // The target takes a request on its public port only with this signature.
        let sig = key.sign_redirect(method, &location[at_path..], &owner.daemon_id, now_secs());
        location.push_str(&sig);
    }
    location
}

/// Appends `n` in base 36 (AIStore's redirect time stamp).
fn push_base36(out: &mut String, mut n: u64) {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = [0u8; 13]; // 36^13 > 2^64
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = DIGITS[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::push_base36;

    #[test]
    fn base36_digits() {
        for (n, want) in [
            (0u64, "0"),
            (35, "z"),
            (36, "10"),
            (1_764_000_000_000_000_000, "deh1t8phon40"),
            (u64::MAX, "3w5e11264sgsf"),
        ] {
            let mut s = String::new();
            push_base36(&mut s, n);
            assert_eq!(s, want, "{n}");
        }
    }
}
