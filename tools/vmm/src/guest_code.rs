// SPDX-License-Identifier: GPL-2.0
//! The guest's code: 32-bit protected mode, flat segments, paging off, so
//! a `mov dword [addr32], imm32` stores straight to a guest physical
//! address; then, if asked, a dword of every page of some ranges is read
//! (so that KVM maps them); then `hlt`.

/// Encodes the stores of `writes` (GPA, value), then a read of every page
/// of each range of `reads` (first GPA, pages), then `hlt`.  A value wider
/// than 32 bits is stored as two dwords, low first.
pub fn encode(writes: &[(u64, u64)], reads: &[(u64, u64)]) -> Result<Vec<u8>, String> {
    let mut code = Vec::new();
    for &(gpa, value) in writes {
        let wide = value > u64::from(u32::MAX);
        let end = gpa + if wide { 8 } else { 4 };
        if end > 1 << 32 {
            return Err(format!(
                "write at {gpa:#x}: the guest code reaches only the first 4 GiB"
            ));
        }
        store(&mut code, gpa as u32, value as u32);
        if wide {
            store(&mut code, gpa as u32 + 4, (value >> 32) as u32);
        }
    }
    for &(gpa, pages) in reads {
        let start = u32::try_from(gpa).ok();
        let n = u32::try_from(pages).ok().filter(|&n| n > 0);
        let (Some(start), Some(n)) = (start, n) else {
            return Err(format!(
                "read of {pages} pages at {gpa:#x}: not in the first 4 GiB"
            ));
        };
        if u64::from(start) + u64::from(n) * 4096 > 1 << 32 {
            return Err(format!(
                "read of {pages} pages at {gpa:#x}: not in the first 4 GiB"
            ));
        }
        read_pages(&mut code, start, n);
    }
    code.push(0xf4); // hlt
    Ok(code)
}

/// A loop reading the first dword of `n` (at least 1) pages from `start`:
/// `mov esi, start; mov ecx, n; l: mov eax, [esi]; add esi, 4096; dec ecx;
/// jnz l`.
fn read_pages(code: &mut Vec<u8>, start: u32, n: u32) {
    code.push(0xbe);
    code.extend_from_slice(&start.to_le_bytes());
    code.push(0xb9);
    code.extend_from_slice(&n.to_le_bytes());
    code.extend_from_slice(&[
        0x8b, 0x06, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, 0x49, 0x75, 0xf5,
    ]);
}

/// `mov dword [addr], imm` (C7 /0 with a disp32-only ModRM).
fn store(code: &mut Vec<u8>, addr: u32, imm: u32) {
    code.extend_from_slice(&[0xc7, 0x05]);
    code.extend_from_slice(&addr.to_le_bytes());
    code.extend_from_slice(&imm.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_store_then_hlt() {
        assert_eq!(
            encode(&[(0x100080, 0x5eed0001)], &[]).unwrap(),
            [0xc7, 0x05, 0x80, 0x00, 0x10, 0x00, 0x01, 0x00, 0xed, 0x5e, 0xf4]
        );
    }

    #[test]
    fn wide_value_is_two_stores() {
        let code = encode(&[(0x2000, 0x1122_3344_5566_7788)], &[]).unwrap();
        assert_eq!(code.len(), 21);
        assert_eq!(&code[2..10], &[0x00, 0x20, 0, 0, 0x88, 0x77, 0x66, 0x55]);
        assert_eq!(&code[12..20], &[0x04, 0x20, 0, 0, 0x44, 0x33, 0x22, 0x11]);
    }

    #[test]
    fn reads_loop_over_pages() {
        let code = encode(&[], &[(0x200000, 3)]).unwrap();
        assert_eq!(
            code,
            [
                0xbe, 0, 0, 0x20, 0, 0xb9, 3, 0, 0, 0, 0x8b, 0x06, 0x81, 0xc6, 0, 0x10, 0, 0, 0x49,
                0x75, 0xf5, 0xf4
            ]
        );
        // The jump lands on the load: 11 bytes back from its end.
        assert_eq!(code.len() - 1 - 11, 10);
        assert!(encode(&[], &[(0xffff_f000, 2)]).is_err());
        assert!(encode(&[], &[(0x1000, 0)]).is_err());
    }

    #[test]
    fn above_4g_is_refused() {
        assert!(encode(&[(0xffff_fffe, 1)], &[]).is_err());
        assert!(encode(&[(0x1_0000_0000, 1)], &[]).is_err());
    }
}
