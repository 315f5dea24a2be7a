// SPDX-License-Identifier: GPL-2.0
//! The undefined symbols of a module file, which say what it takes from
//! the kernel's exports (see `facility::resolved_from_kallsyms`).  The
//! ELF64 reading itself, and /proc/kcore's segments, are
//! `gfn_client::elf`'s.

use gfn_client::elf::{header, u16_at, u32_at, u64_at, ReadAt, SHDR_SIZE};
use std::collections::BTreeSet;

pub use gfn_client::elf::file_reader;

const SHT_SYMTAB: u32 = 2;
const SYM_SIZE: usize = 24;

/// The names of the symbols `read_at`'s file uses but does not define:
/// what a module takes from the kernel (or other modules) when it loads.
pub fn undefined_symbols(read_at: ReadAt) -> Result<BTreeSet<String>, String> {
    let eh = header(read_at)?;
    let shoff = u64_at(&eh, 40);
    let shentsize = usize::from(u16_at(&eh, 58));
    let shnum = usize::from(u16_at(&eh, 60));
    if shentsize < SHDR_SIZE {
        return Err(format!("section headers of {shentsize} bytes"));
    }
    let mut table = vec![0u8; shnum * shentsize];
    read_at(shoff, &mut table)?;
    let sections: Vec<&[u8]> = table.chunks_exact(shentsize).collect();
    let symtab = sections
        .iter()
        .find(|sh| u32_at(sh, 4) == SHT_SYMTAB)
        .ok_or("no symbol table")?;
    let read_section = |sh: &[u8]| -> Result<Vec<u8>, String> {
        let mut data = vec![0u8; u64_at(sh, 32) as usize];
        read_at(u64_at(sh, 24), &mut data)?;
        Ok(data)
    };
    let strtab = sections
        .get(u32_at(symtab, 40) as usize)
        .ok_or("the symbol table's string table is missing")?;
    let (syms, names) = (read_section(symtab)?, read_section(strtab)?);
    let mut undefined = BTreeSet::new();
    // Symbol 0 is the null symbol.
    for sym in syms.chunks_exact(SYM_SIZE).skip(1) {
        let (name, shndx) = (u32_at(sym, 0) as usize, u16_at(sym, 6));
        if shndx != 0 || name == 0 {
            continue;
        }
        let tail = names
            .get(name..)
            .ok_or("a symbol name past its string table")?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        undefined.insert(String::from_utf8_lossy(&tail[..end]).into_owned());
    }
    Ok(undefined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_client::elf::EHDR_SIZE;

    fn put(b: &mut [u8], at: usize, v: &[u8]) {
        b[at..at + v.len()].copy_from_slice(v);
    }

    fn reader(b: &[u8]) -> impl Fn(u64, &mut [u8]) -> Result<(), String> + '_ {
        move |at, buf| {
            let at = at as usize;
            let src = b.get(at..at + buf.len()).ok_or("read past the end")?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    fn ehdr() -> Vec<u8> {
        let mut b = vec![0u8; EHDR_SIZE];
        put(&mut b, 0, b"\x7fELF\x02\x01\x01");
        put(&mut b, 52, &(EHDR_SIZE as u16).to_le_bytes());
        b
    }

    /// A module-like file: a symbol table with a defined symbol, two
    /// undefined ones and the null symbol.
    fn module() -> Vec<u8> {
        let mut b = ehdr();
        let names = b"\0init_module\0walk_page_range\0vm_list\0".to_vec();
        let mut syms = vec![0u8; SYM_SIZE]; // the null symbol
        for (name, shndx) in [(1u32, 2u16), (13, 0), (29, 0)] {
            let mut s = vec![0u8; SYM_SIZE];
            put(&mut s, 0, &name.to_le_bytes());
            put(&mut s, 6, &shndx.to_le_bytes());
            syms.extend(s);
        }
        let (names_at, syms_at) = (b.len(), b.len() + names.len());
        b.extend(&names);
        b.extend(&syms);
        let shoff = b.len();
        put(&mut b, 40, &(shoff as u64).to_le_bytes());
        put(&mut b, 58, &(SHDR_SIZE as u16).to_le_bytes());
        put(&mut b, 60, &3u16.to_le_bytes());
        // Section 0 is null; 1 the string table; 2 the symbol table.
        b.extend(vec![0u8; SHDR_SIZE]);
        for (kind, at, size, link) in [
            (3u32, names_at, names.len(), 0u32),
            (SHT_SYMTAB, syms_at, syms.len(), 1),
        ] {
            let mut sh = vec![0u8; SHDR_SIZE];
            put(&mut sh, 4, &kind.to_le_bytes());
            put(&mut sh, 24, &(at as u64).to_le_bytes());
            put(&mut sh, 32, &(size as u64).to_le_bytes());
            put(&mut sh, 40, &link.to_le_bytes());
            b.extend(sh);
        }
        b
    }

    #[test]
    fn a_modules_imports_are_its_undefined_symbols() {
        let file = module();
        let got = undefined_symbols(&reader(&file)).unwrap();
        let want: BTreeSet<String> = ["walk_page_range", "vm_list"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    }
}
