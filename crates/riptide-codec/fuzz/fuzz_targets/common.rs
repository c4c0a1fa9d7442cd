// Shared by the decoder targets: feed `data[1..]` in chunks sized from `data[0]`, like a
// socket would, keeping unconsumed bytes; check frames stay within `max` and that no more
// than `max` + one chunk is ever held.
use riptide_codec::{CodecFactory, CodecSpec, Decoded};

pub fn feed(spec: &CodecSpec, data: &[u8], max: usize) {
    let Some((&step, input)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let mut codec = spec.new_codec();
    let mut held: Vec<u8> = Vec::new();
    for chunk in input.chunks(step) {
        held.extend_from_slice(chunk);
        let mut used = 0;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 1_000_000, "decoder made no progress");
            match codec.decode(&held[used..]) {
                Decoded::Frame { consumed, start, end } => {
                    assert!(start <= end && end <= held.len() - used && consumed <= held.len() - used);
                    assert!(end - start <= max, "frame over the limit");
                    assert!(consumed > 0, "a frame consumes bytes");
                    used += consumed;
                }
                Decoded::Owned { consumed, frame } => {
                    assert!(consumed > 0 && consumed <= held.len() - used);
                    assert!(frame.len() <= max + 64 * 1024, "descriptor over the limits");
                    used += consumed;
                }
                Decoded::Skip { consumed } | Decoded::Error { consumed, .. } => {
                    assert!(consumed <= held.len() - used);
                    used += consumed;
                }
                Decoded::Reply { .. } => {}
                Decoded::NeedMore => break,
            }
        }
        held.drain(..used);
        assert!(held.len() <= max + 64 * 1024 + step, "held {} bytes", held.len());
    }
}
