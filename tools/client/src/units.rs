// SPDX-License-Identifier: GPL-2.0
//! Amounts of memory as people read them.

/// `bytes` in the largest binary unit of which there is at least one, to
/// a tenth ("1.5 KiB", "2 MiB", "1023.9 GiB"); bytes below 1 KiB.
pub fn size(bytes: u64) -> String {
    for (i, unit) in ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB"]
        .into_iter()
        .enumerate()
    {
        let shift = 60 - 10 * i;
        if bytes >= 1 << shift {
            let v = format!("{:.1}", bytes as f64 / (1u64 << shift) as f64);
            return format!("{} {unit}", v.strip_suffix(".0").unwrap_or(&v));
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(2 << 20), "2 MiB");
        assert_eq!(size((1 << 40) - (100 << 20)), "1023.9 GiB");
        assert_eq!(size(u64::MAX), "16 EiB");
    }
}
