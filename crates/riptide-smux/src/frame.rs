//! The smux frame: an 8-byte header `ver | cmd | len u16 LE | sid u32 LE` and `len` bytes of
//! payload. Parsing checks everything the header alone can say is wrong; what depends on
//! session state (the stream, the windows) is the session's business.

use crate::Error;

/// The header's size on the wire.
pub const HEADER_LEN: usize = 8;
/// The payload size of a v2 window update (`consumed u32 LE | window u32 LE`).
pub const UPD_LEN: usize = 8;
/// The send window a v2 sender assumes for a new stream until the peer's first update
/// (smux's `initialPeerWindow`).
pub const INITIAL_PEER_WINDOW: u32 = 262_144;

/// A frame's command byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Opens a stream (no payload).
    Syn,
    /// Ends the sender's direction of a stream (no payload).
    Fin,
    /// Stream data.
    Psh,
    /// Keepalive (no payload, stream id 0 when smux sends it).
    Nop,
    /// v2 only: the receiver's consumed count and window for a stream.
    Upd,
}

impl Cmd {
    /// The command's wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Cmd::Syn => 0,
            Cmd::Fin => 1,
            Cmd::Psh => 2,
            Cmd::Nop => 3,
            Cmd::Upd => 4,
        }
    }

    /// The command a wire byte names, or `None` for an unknown one.
    pub fn from_byte(byte: u8) -> Option<Cmd> {
        Some(match byte {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            _ => return None,
        })
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The protocol version (1 or 2).
    pub version: u8,
    /// The command.
    pub cmd: Cmd,
    /// The payload length.
    pub len: u16,
    /// The stream id.
    pub sid: u32,
}

impl FrameHeader {
    /// Parses a header sent by a peer speaking `version`, with smux's rules: the version must
    /// match, the command must be known, SYN/FIN/NOP carry no payload, UPD exists only in v2
    /// and carries exactly [`UPD_LEN`] bytes.
    pub fn parse(bytes: [u8; HEADER_LEN], version: u8) -> Result<FrameHeader, Error> {
        let [ver, cmd, l0, l1, s0, s1, s2, s3] = bytes;
        if ver != version {
            return Err(Error::InvalidVersion {
                got: ver,
                expected: version,
            });
        }
        let cmd = Cmd::from_byte(cmd).ok_or(Error::InvalidCommand(cmd))?;
        let len = u16::from_le_bytes([l0, l1]);
        let sid = u32::from_le_bytes([s0, s1, s2, s3]);
        let len_ok = match cmd {
            Cmd::Syn | Cmd::Fin | Cmd::Nop => len == 0,
            Cmd::Psh => true,
            Cmd::Upd if version < 2 => return Err(Error::InvalidCommand(cmd.byte())),
            Cmd::Upd => usize::from(len) == UPD_LEN,
        };
        if !len_ok {
            return Err(Error::InvalidLength {
                cmd: cmd.byte(),
                len,
            });
        }
        Ok(FrameHeader {
            version,
            cmd,
            len,
            sid,
        })
    }

    /// The header's wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let [l0, l1] = self.len.to_le_bytes();
        let [s0, s1, s2, s3] = self.sid.to_le_bytes();
        [self.version, self.cmd.byte(), l0, l1, s0, s1, s2, s3]
    }
}

/// Appends one frame to `out`. `payload` must fit in the u16 length (callers split data into
/// frames of at most the configured frame size, itself at most 65535).
pub(crate) fn push_frame(out: &mut Vec<u8>, version: u8, cmd: Cmd, sid: u32, payload: &[u8]) {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let payload = payload.get(..usize::from(len)).unwrap_or_default();
    out.extend_from_slice(
        &FrameHeader {
            version,
            cmd,
            len,
            sid,
        }
        .encode(),
    );
    out.extend_from_slice(payload);
}
