//! The server's list of client public keys allowed to handshake (Noise IK), shared between
//! the [`Endpoint`](crate::Endpoint) and whoever updates it at runtime.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

use crate::keys::{public_key_from_slice, KEY_LEN};
use crate::SecureError;

/// The client public keys a server accepts, like WireGuard's peer list. Clones share one
/// set: the caller keeps a clone and [`replace`](AllowedClients::replace)s or
/// [`remove`](AllowedClients::remove)s keys while the endpoint runs.
///
/// The endpoint checks the set twice per handshake: when the init arrives (an unlisted key
/// gets no answer at all, as in WireGuard, so a scanner learns nothing) and when the
/// client's first transport packet would create the session (a key removed in between gets
/// no session). Sessions already created are not touched by a removal: their keys were
/// agreed by a handshake that was allowed, and the transport ratchets its keys without a new
/// handshake, so there is no later point where the list is consulted. A caller that wants
/// a removal to end live sessions closes them itself, using the client key that
/// [`Incoming::Accept`](crate::Incoming::Accept) reported for each.
#[derive(Clone, Debug, Default)]
pub struct AllowedClients(Arc<RwLock<HashSet<[u8; KEY_LEN]>>>);

/// Checks every key (32 bytes, not a small-order point) and collects them.
fn checked<'a>(
    keys: impl IntoIterator<Item = &'a [u8]>,
) -> Result<HashSet<[u8; KEY_LEN]>, SecureError> {
    keys.into_iter().map(public_key_from_slice).collect()
}

impl AllowedClients {
    /// A set holding `keys`.
    ///
    /// # Errors
    /// [`SecureError::BadKey`] if any key is not 32 bytes or is a small-order point; nothing
    /// is kept then.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, SecureError> {
        Ok(Self(Arc::new(RwLock::new(checked(keys)?))))
    }

    /// Replaces the whole set at once (a re-read allowlist file, a new list from JS): new
    /// handshakes see either the old set or the new one, never a mix.
    ///
    /// # Errors
    /// [`SecureError::BadKey`] as in [`new`](AllowedClients::new); the set is unchanged then.
    pub fn replace<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<(), SecureError> {
        let fresh = checked(keys)?;
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Removes one key; returns whether it was listed.
    pub fn remove(&self, key: &[u8; KEY_LEN]) -> bool {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }

    /// Whether `key` is allowed now.
    pub fn contains(&self, key: &[u8; KEY_LEN]) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    /// How many keys are allowed.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no key is allowed (then every client is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_keypair;

    #[test]
    fn clones_share_one_set_and_bad_keys_change_nothing() {
        let a = generate_keypair().unwrap().public;
        let b = generate_keypair().unwrap().public;
        let list = AllowedClients::new([a.as_slice()]).unwrap();
        let view = list.clone();
        assert!(view.contains(&a) && !view.contains(&b));
        list.replace([a.as_slice(), b.as_slice()]).unwrap();
        assert_eq!(view.len(), 2);
        assert_eq!(
            list.replace([b.as_slice(), &[0u8; 32][..]]),
            Err(SecureError::BadKey)
        );
        assert_eq!(view.len(), 2);
        assert!(list.remove(&a) && !list.remove(&a));
        assert!(!view.contains(&a) && view.contains(&b));
        assert_eq!(
            AllowedClients::new([&[1u8; 31][..]]).unwrap_err(),
            SecureError::BadKey
        );
        assert!(AllowedClients::default().is_empty());
    }
}
