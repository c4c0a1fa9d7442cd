//! The records a WebSocket layer and its application exchange through a length-field codec
//! (see `ws_layer.rs`): a 4-byte big-endian length, a kind byte, a body. Strings and header
//! lists inside a record carry `u32` little-endian counts and lengths, as the HTTP request
//! descriptor does.

/// Record kinds, the first byte of each record. Up (layer to application): [`UPGRADE`] (a
/// server's), [`OPEN`] (a client's), [`TEXT`], [`BINARY`], [`PING`] and [`PONG`] (the peer's,
/// already answered); on an HTTP listener that upgrades chosen routes (`http_ws_layer.rs`),
/// also [`HTTP`], [`HTTP_ERROR`] and [`DECLINED`] before the upgrade. Down (application to
/// layer): [`TEXT`], [`BINARY`], [`PING`], [`CLOSE`], [`ACCEPT`], [`REFUSE`], [`FRAMED`].
pub mod kind {
    /// The upgrade request: path, offered subprotocols, the one the server would choose
    /// (length `u32::MAX` for none), headers (`u32` little-endian counts and lengths before
    /// each string, as in the HTTP request descriptor).
    pub const UPGRADE: u8 = b'U';
    /// A text message (UTF-8).
    pub const TEXT: u8 = b'T';
    /// A binary message.
    pub const BINARY: u8 = b'B';
    /// A ping with this payload (at most 125 bytes): down, one to send; up, the peer's (its
    /// pong is already queued).
    pub const PING: u8 = b'P';
    /// The peer's pong, with its payload (up only).
    pub const PONG: u8 = b'Q';
    /// A client's handshake succeeded: the subprotocol the server chose (as in [`ACCEPT`]),
    /// then the 101's headers as in [`UPGRADE`]. The first record up, once.
    pub const OPEN: u8 = b'O';
    /// Start the close handshake: a `u16` big-endian code, then the reason in UTF-8.
    pub const CLOSE: u8 = b'C';
    /// Accept the upgrade: a subprotocol (`u32` length, `u32::MAX` for none), then headers as
    /// in [`UPGRADE`].
    pub const ACCEPT: u8 = b'A';
    /// Refuse the upgrade: a `u16` big-endian status, then headers as in [`UPGRADE`].
    pub const REFUSE: u8 = b'R';
    /// Whole WebSocket messages already framed (a publication framed once for every
    /// subscriber, `ws_codec.rs`), sent as they are while the session is open.
    pub const FRAMED: u8 = b'F';
    /// An HTTP/1.1 request on a listener that upgrades chosen routes (up only): its
    /// descriptor, as the `http1` codec frames it ([`riptide_codec::parse_request`] reads it).
    pub const HTTP: u8 = b'H';
    /// The HTTP bytes broke the protocol or a limit (up only): the error's code, then its
    /// message (strings as in [`UPGRADE`]). Nothing after them is read; answer and close.
    pub const HTTP_ERROR: u8 = b'E';
    /// An upgrade request the layer does not hand on (up only): a `u16` big-endian status,
    /// 404 for a route not listed, the handshake's own (400, 405, 426, 431) for a bad one.
    /// The application answers it with a [`REFUSE`] control message once the responses to
    /// the requests before it are written, so the refusal follows them.
    pub const DECLINED: u8 = b'D';
}

/// The size of a record's length field.
pub(crate) const LENGTH: usize = 4;

/// Appends `n` as a record's length field.
pub(crate) fn put_length(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

/// Appends a whole record (kind byte included) with its length field.
pub(crate) fn put_record(out: &mut Vec<u8>, record: &[u8]) {
    put_length(out, record.len());
    out.extend_from_slice(record);
}

/// Calls `each` with the body of every whole record in `partial` followed by `data`, in
/// order, and keeps the start of an unfinished one in `partial`.
pub(crate) fn for_each_record(partial: &mut Vec<u8>, data: &[u8], mut each: impl FnMut(&[u8])) {
    partial.extend_from_slice(data);
    let mut at = 0usize;
    while let Some(header) = partial.get(at..at.saturating_add(LENGTH)) {
        let mut n = [0u8; LENGTH];
        n.copy_from_slice(header);
        let start = at.saturating_add(LENGTH);
        let end = start.saturating_add(u32::from_be_bytes(n) as usize);
        let Some(record) = partial.get(start..end) else {
            break;
        };
        each(record);
        at = end;
    }
    partial.drain(..at.min(partial.len()));
}

/// The kind of `record` when it is exactly one whole record with its length field (a
/// publication's, as the codec framed it).
pub(crate) fn whole_kind(record: &[u8]) -> Option<u8> {
    let (n, body) = record.split_at_checked(LENGTH)?;
    let mut len = [0u8; LENGTH];
    len.copy_from_slice(n);
    (u32::from_be_bytes(len) as usize == body.len()).then_some(*body.first()?)
}

/// Appends a count or a string length inside a record (`u32` little-endian).
pub(crate) fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Appends a string with its length.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_count(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Appends a header count, then each name and value.
pub(crate) fn put_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    put_count(out, headers.len());
    for (name, value) in headers {
        put_str(out, name);
        put_str(out, value);
    }
}

/// Reads the fields of an application record. A malformed record is a bug on the JS side
/// (TypeScript writes them), reported as a protocol error and never trusted for an index.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], riptide_ws::Error> {
        let malformed = || riptide_ws::HandshakeError::BadHeader("malformed record".into());
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(malformed)?;
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn u16_be(&mut self) -> Result<u16, riptide_ws::Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32, riptide_ws::Error> {
        let mut n = [0u8; 4];
        n.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(n))
    }

    pub(crate) fn string(&mut self, n: u32) -> Result<String, riptide_ws::Error> {
        let bytes = self.take(n as usize)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| riptide_ws::HandshakeError::BadHeader("not UTF-8".into()).into())
    }

    pub(crate) fn optional_str(&mut self) -> Result<Option<String>, riptide_ws::Error> {
        match self.u32_le()? {
            u32::MAX => Ok(None),
            n => self.string(n).map(Some),
        }
    }

    pub(crate) fn headers(&mut self) -> Result<Vec<(String, String)>, riptide_ws::Error> {
        let count = self.u32_le()?;
        let mut headers = Vec::new();
        for _ in 0..count {
            let n = self.u32_le()?;
            let name = self.string(n)?;
            let n = self.u32_le()?;
            headers.push((name, self.string(n)?));
        }
        Ok(headers)
    }
}
