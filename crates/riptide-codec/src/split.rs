//! The discard mode the line and delimiter decoders share (netty's `LineBasedFrameDecoder` and
//! `DelimiterBasedFrameDecoder` behave alike): an overlong frame is skipped up to its end, and
//! reported either at once (`fail_fast`) or when its end arrives.

use crate::{Decoded, FrameError};

/// How one decoder applies the rule.
pub(crate) struct Rule {
    /// Longest frame, not counting its delimiter.
    pub max: u64,
    pub strip_delimiter: bool,
    pub fail_fast: bool,
    /// Count the last piece of a discarded frame in its reported length (the line decoder
    /// does, the delimiter decoder does not, as in netty).
    pub count_last_piece: bool,
}

/// Discard-mode state. Sums saturate: they count bytes of one buffer (`usize`) or bytes
/// discarded so far (`u64`, which a connection cannot exhaust).
#[derive(Clone, Debug, Default)]
pub(crate) struct Splitter {
    discarding: bool,
    discarded: u64,
}

impl Splitter {
    /// Decides what `buf` (of `len` bytes) holds, given the first frame end found in it
    /// (`(frame length, delimiter length)`), and, when no end was found, how many bytes to
    /// drop because the frame is already too long (`None` while it may still fit; the caller
    /// keeps a tail that could start a delimiter).
    pub(crate) fn decide(
        &mut self,
        len: usize,
        end: Option<(usize, usize)>,
        drop_if_over: Option<usize>,
        rule: &Rule,
    ) -> Decoded {
        let max = rule.max;
        match end {
            Some((frame, delim)) if self.discarding => {
                let length = self.discarded.saturating_add(if rule.count_last_piece {
                    frame as u64
                } else {
                    0
                });
                self.discarding = false;
                self.discarded = 0;
                if rule.fail_fast {
                    Decoded::Skip {
                        consumed: frame.saturating_add(delim),
                    }
                } else {
                    Decoded::Error {
                        consumed: frame.saturating_add(delim),
                        error: FrameError::TooLong { length, max },
                    }
                }
            }
            Some((frame, delim)) if frame as u64 > max => Decoded::Error {
                consumed: frame.saturating_add(delim),
                error: FrameError::TooLong {
                    length: frame as u64,
                    max,
                },
            },
            Some((frame, delim)) => Decoded::Frame {
                consumed: frame.saturating_add(delim),
                start: 0,
                end: if rule.strip_delimiter {
                    frame
                } else {
                    frame.saturating_add(delim)
                },
            },
            None if self.discarding => {
                self.discarded = self.discarded.saturating_add(len as u64);
                if len == 0 {
                    Decoded::NeedMore
                } else {
                    Decoded::Skip { consumed: len }
                }
            }
            None => match drop_if_over {
                Some(n) => {
                    self.discarding = true;
                    self.discarded = n as u64;
                    if rule.fail_fast {
                        Decoded::Error {
                            consumed: n,
                            error: FrameError::TooLong {
                                length: n as u64,
                                max,
                            },
                        }
                    } else {
                        Decoded::Skip { consumed: n }
                    }
                }
                None => Decoded::NeedMore,
            },
        }
    }
}

/// How many bytes at the front of the buffer are known to hold no frame end after `decided`
/// (made on a buffer of `len` bytes, in which an end was or was not found): the next call
/// scans from there. After an end, the rest was not scanned; without one, what was not
/// consumed was.
pub(crate) fn scanned_after(decided: &Decoded, found_end: bool, len: usize) -> usize {
    match decided {
        _ if found_end => 0,
        Decoded::NeedMore => len,
        Decoded::Skip { consumed }
        | Decoded::Error { consumed, .. }
        | Decoded::Frame { consumed, .. }
        | Decoded::Owned { consumed, .. } => len.saturating_sub(*consumed),
        Decoded::Reply { .. } => 0,
    }
}
