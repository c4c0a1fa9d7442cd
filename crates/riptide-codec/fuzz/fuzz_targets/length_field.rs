#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;
use riptide_codec::{ByteOrder, CodecSpec, LengthFieldConfig};

fuzz_target!(|data: &[u8]| {
    let b = data.first().copied().unwrap_or(0);
    let width = [1, 2, 3, 4, 8][usize::from(b % 5)];
    let spec = CodecSpec::LengthField(LengthFieldConfig {
        byte_order: if b & 0x40 != 0 { ByteOrder::Little } else { ByteOrder::Big },
        max_frame_length: 256,
        length_field_offset: usize::from(b >> 6),
        length_field_length: width,
        length_adjustment: i64::from(b % 7) - 3,
        initial_bytes_to_strip: usize::from(b % 3),
        fail_fast: b & 0x20 != 0,
        ..LengthFieldConfig::default()
    });
    if spec.validate().is_ok() {
        common::feed(&spec, data, 256);
    }
});
