//! Handing listening sockets between processes (upgrade in place, systemd socket
//! activation): wrapping the descriptors this process was started with into riptide's pool
//! (`riptide::inherit`), and duplicating an engine's listeners for a new process.

#[cfg(not(unix))]
use crate::throw_code;
use crate::{throw, NativeAddress, NativeEngine};
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

/// A socket handed to this process, as the pool sees it.
#[napi(object)]
pub struct NativeInherited {
    /// The descriptor number it arrived on.
    pub fd: i32,
    /// `'tcp'`, `'udp'` or `'unix'`; `''` when it is none of them (then `error` says why and
    /// the descriptor is closed).
    pub kind: String,
    /// The address it is bound to (a Unix socket's path in `address`).
    pub address: Option<NativeAddress>,
    /// The name it was handed over with (`LISTEN_FDNAMES`).
    pub name: String,
    /// Why it was not taken into the pool.
    pub error: Option<String>,
}

#[cfg(unix)]
fn describe(fd: i32, about: riptide::inherit::InheritedSocket) -> NativeInherited {
    use riptide::inherit::InheritedKind;
    use riptide::PeerAddr;
    let (kind, address) = match about.kind {
        InheritedKind::Tcp(a) => ("tcp", PeerAddr::Inet(a)),
        InheritedKind::Udp(a) => ("udp", PeerAddr::Inet(a)),
        InheritedKind::Unix(p) => ("unix", PeerAddr::Unix(p.to_string_lossy().into_owned())),
    };
    NativeInherited {
        fd,
        kind: kind.into(),
        address: Some(address.into()),
        name: about.name,
        error: None,
    }
}

/// Sets this process's upgrade generation (an integer 0–255; riptide's upgrade starts the new
/// process with the old one's plus one, wrapping): secure `kcp://` listeners made from now on
/// put it in their session ids, so a reuseport program keeps each session with the process
/// that owns it during an upgrade in place (`riptide::set_upgrade_generation`).
#[napi]
pub fn set_upgrade_generation(env: Env, generation: u32) -> Result<()> {
    let generation = u8::try_from(generation).map_err(|_| {
        throw(
            &env,
            riptide::Error::InvalidOption(format!(
                "the upgrade generation is 0 to 255, got {generation}"
            )),
        )
    })?;
    riptide::set_upgrade_generation(generation);
    Ok(())
}

/// Takes ownership of descriptors `fds` (named `names`, same order; missing names are empty),
/// which this process was started with, into the pool listeners are taken from. Each becomes
/// close-on-exec and non-blocking. A descriptor that is not a TCP or Unix listening socket or
/// a bound UDP socket is closed and described with its `error`. Unix only (elsewhere it
/// throws `ERR_UNSUPPORTED_PLATFORM`).
#[napi]
pub fn inherit_sockets(
    env: Env,
    fds: Vec<i32>,
    names: Vec<String>,
) -> Result<Vec<NativeInherited>> {
    #[cfg(unix)]
    {
        use std::os::fd::{FromRawFd, OwnedFd};
        if let Some(bad) = fds.iter().find(|&&fd| fd < 3) {
            return Err(throw(
                &env,
                riptide::Error::InvalidOption(format!(
                    "inherited descriptors start at 3, got {bad}"
                )),
            ));
        }
        let mut out = Vec::with_capacity(fds.len());
        for (i, &fd) in fds.iter().enumerate() {
            // SAFETY: the caller hands over ownership of a descriptor this process was started
            // with (`LISTEN_FDS`), which nothing else in the process uses (documented).
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            let name = names.get(i).cloned().unwrap_or_default();
            out.push(match riptide::inherit::inherit(owned, name.clone()) {
                Ok(about) => describe(fd, about),
                Err(e) => NativeInherited {
                    fd,
                    kind: String::new(),
                    address: None,
                    name,
                    error: Some(e.to_string()),
                },
            });
        }
        Ok(out)
    }
    #[cfg(not(unix))]
    {
        let _ = (fds, names);
        Err(throw_code(
            &env,
            "ERR_UNSUPPORTED_PLATFORM",
            "inherited sockets are POSIX file descriptors, which this platform does not have",
        ))
    }
}

/// The inherited sockets no listener has taken yet.
#[napi]
pub fn pending_inherited() -> Vec<NativeInherited> {
    #[cfg(unix)]
    {
        riptide::inherit::pending()
            .into_iter()
            .map(|about| describe(-1, about))
            .collect()
    }
    #[cfg(not(unix))]
    Vec::new()
}

/// Closes the inherited sockets no listener took; returns how many.
#[napi]
pub fn close_inherited() -> u32 {
    #[cfg(unix)]
    {
        u32::try_from(riptide::inherit::close_pending()).unwrap_or(u32::MAX)
    }
    #[cfg(not(unix))]
    0
}

/// A duplicate of one of an engine's listening sockets, for a new process. The caller owns
/// `fd` and must close it.
#[napi(object)]
pub struct NativeExported {
    /// The duplicate descriptor (close-on-exec).
    pub fd: i32,
    /// The reactor whose listener it is.
    pub reactor: u32,
    /// The listener's index on that reactor.
    pub index: u32,
    /// True for a UDP socket.
    pub datagram: bool,
    /// True for a secure `kcp://` listener's socket in a `SO_REUSEPORT` group, which the new
    /// process joins instead of reading (`riptide::inherit::ExportedListener::routed`).
    pub routed: bool,
    /// The bound address.
    pub address: NativeAddress,
}

/// How long [`NativeEngine::export_listeners`] waits for a worker reactor's sockets, and
/// [`NativeEngine::release_listeners`] for a worker reactor to let go of them.
const EXPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[napi]
impl NativeEngine {
    /// Duplicates of the listening sockets of every reactor of the engine (reactor 0's
    /// first), for a new process to inherit; the listeners keep serving. The caller owns the
    /// returned descriptors. Throws `ERR_ENGINE_STOPPED` once stopped, and
    /// `ERR_UNSUPPORTED_PLATFORM` off Unix.
    #[napi]
    pub fn export_listeners(&self, env: Env) -> Result<Vec<NativeExported>> {
        #[cfg(unix)]
        {
            use std::os::fd::IntoRawFd;
            let mut all = Vec::new();
            let own = self
                .driver
                .with_reactor(|r| r.export_listeners())
                .ok_or_else(|| throw(&env, riptide::Error::EngineStopped))?
                .map_err(|e| throw(&env, e.into()))?;
            all.push((self.index, own));
            if self.index == 0 {
                let others = self.shared.running();
                for remote in others.iter().filter(|r| r.index() != 0) {
                    let rx = remote.export_listeners().map_err(|e| throw(&env, e))?;
                    let got = rx
                        .recv_timeout(EXPORT_WAIT)
                        .map_err(|_| throw(&env, riptide::Error::EngineStopped))?
                        .map_err(|e| throw(&env, e.into()))?;
                    all.push((u32::try_from(remote.index()).unwrap_or(u32::MAX), got));
                }
            }
            Ok(all
                .into_iter()
                .flat_map(|(reactor, list)| {
                    list.into_iter().map(move |e| NativeExported {
                        fd: e.fd.into_raw_fd(),
                        reactor,
                        index: u32::try_from(e.index).unwrap_or(u32::MAX),
                        datagram: e.datagram,
                        routed: e.routed,
                        address: e.local.into(),
                    })
                })
                .collect())
        }
        #[cfg(not(unix))]
        Err(throw_code(
            &env,
            "ERR_UNSUPPORTED_PLATFORM",
            "listening sockets are handed over as POSIX file descriptors, which this platform does not have",
        ))
    }

    /// Stops serving the listeners of every reactor of the engine, leaving connections open
    /// (`riptide::Reactor::release_listeners`): after an upgrade in place the new process
    /// serves the shared sockets alone. Returns once every reactor has let go (each worker
    /// reactor within [`EXPORT_WAIT`]), so `countAllConnections` then counts everything the
    /// listeners accepted: a drain that reads it before could stop while a worker reactor
    /// still accepts, and close those connections before they were served.
    #[napi]
    pub fn release_listeners(&self) {
        self.driver.with_reactor(|r| r.release_listeners());
        if self.index == 0 {
            let acks: Vec<_> = self
                .shared
                .running()
                .iter()
                .filter(|r| r.index() != 0)
                .filter_map(|remote| remote.release_listeners().ok())
                .collect();
            for ack in acks {
                // A reactor that stopped meanwhile has no listeners left: its sender is gone.
                let _ = ack.recv_timeout(EXPORT_WAIT);
            }
        }
    }
}
