//! Accounts and credentials, shared by TAXII 1.x and 2.1: werkzeug password hashes (so
//! OpenTAXII accounts log in unchanged). Token and permission checks join this module as the
//! protocols arrive; nothing here speaks HTTP.

pub mod password;

/// Constant-time equality for secrets (hashes, signatures): the time depends on the length
/// only, never on where the first difference is.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
