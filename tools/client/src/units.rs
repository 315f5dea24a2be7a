//! Amounts of memory as people read them.

/// `bytes` in the largest binary unit of which there is at least one, to a tenth.
pub fn size(bytes: u64) -> String {
    for (i, unit) in ["EiB", "PiB", "TiB", "GiB", "MiB"].into_iter().enumerate() {
        let shift = 60 - 10 * i;
        if bytes >= 1 << shift {
            let v = format!("{:.1}", bytes as f64 / (1u64 << shift) as f64);
            return format!("{} {unit}", v.strip_suffix(".0").unwrap_or(&v));
        }
    }
    match bytes {
        1024.. => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} B"),
    }
}
