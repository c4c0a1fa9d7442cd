//! Where the TLS records of a byte stream end: a kernel TLS hand-over is only sound when
//! every byte given to rustls belongs to a complete record (rustls keeps a partial one in a
//! buffer that no secret extraction carries over), so the TLS layer follows the record
//! headers (RFC 8446 §5.1: type, version, 16-bit length) of what it reads.

/// How far into the current record the bytes seen so far reach.
#[derive(Debug, Default)]
pub(crate) struct RecordEdge {
    /// Header bytes of the next record seen so far (0 to 4).
    header: [u8; 5],
    have: usize,
    /// Body bytes of the current record still to come.
    body_left: usize,
}

impl RecordEdge {
    /// Follows `data`, the next bytes of the stream.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(data.len());
                self.body_left -= take;
                data = data.get(take..).unwrap_or_default();
                continue;
            }
            let take = (self.header.len() - self.have).min(data.len());
            if let (Some(to), Some(from)) = (
                self.header.get_mut(self.have..self.have + take),
                data.get(..take),
            ) {
                to.copy_from_slice(from);
            }
            self.have += take;
            data = data.get(take..).unwrap_or_default();
            if self.have == self.header.len() {
                let [_, _, _, high, low] = self.header;
                self.body_left = usize::from(u16::from_be_bytes([high, low]));
                self.have = 0;
            }
        }
    }

    /// True when the bytes seen so far end exactly at a record's end.
    pub(crate) fn at_edge(&self) -> bool {
        self.have == 0 && self.body_left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Records of any lengths, cut anywhere: the edge is seen exactly where a record ends.
        #[test]
        fn edges_are_record_ends(
            lengths in proptest::collection::vec(0usize..600, 1..8),
            cuts in proptest::collection::vec(1usize..700, 1..40),
        ) {
            let mut stream = Vec::new();
            let mut ends = std::collections::HashSet::from([0usize]);
            for (i, len) in lengths.iter().enumerate() {
                stream.extend_from_slice(&[23, 3, 3]);
                stream.extend_from_slice(&(*len as u16).to_be_bytes());
                stream.extend((0..*len).map(|b| (b + i) as u8));
                ends.insert(stream.len());
            }
            let mut edge = RecordEdge::default();
            let (mut at, mut cut) = (0, cuts.iter().cycle());
            while at < stream.len() {
                let step = (*cut.next().unwrap_or(&1)).min(stream.len() - at);
                edge.feed(&stream[at..at + step]);
                at += step;
                prop_assert_eq!(edge.at_edge(), ends.contains(&at), "at {}", at);
            }
        }
    }

    #[test]
    fn a_lone_header_is_not_an_edge_and_an_empty_record_is() {
        let mut edge = RecordEdge::default();
        assert!(edge.at_edge());
        edge.feed(&[21, 3, 3]);
        assert!(!edge.at_edge());
        edge.feed(&[0, 0]);
        assert!(edge.at_edge());
        edge.feed(&[23, 3, 3, 0xff, 0xff]);
        assert!(!edge.at_edge());
        edge.feed(&vec![0; 0xffff]);
        assert!(edge.at_edge());
    }
}
