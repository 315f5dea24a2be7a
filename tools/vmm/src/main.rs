// SPDX-License-Identifier: GPL-2.0
//! gfn-vmm: a minimal VMM for testing gfn_to_pfn, in the manner of the KVM
//! selftests.  It creates a VM with memslots of chosen backing, runs one
//! vCPU whose code stores known values at known guest physical addresses
//! and halts, checks the stores landed, reports everything in
//! machine-readable lines and holds the VM until told to exit.

mod args;
mod guest_code;
mod memory;
mod vcpu;

use args::{After, Args, Backing};
use kvm_bindings::{kvm_userspace_memory_region, KVM_MEM_LOG_DIRTY_PAGES};
use kvm_ioctls::{Kvm, VmFd};
use memory::Region;
use std::io::{BufRead, Write};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// The code slot sits just below 4 GiB, out of the way of data slots.
const CODE_GPA: u64 = 0xfff0_0000;
const CODE_SIZE: u64 = 0x1_0000;

/// Creates the VM with its memslots, runs the vCPU to `hlt` and checks
/// the stores, reporting on `out`.  The VM is returned before its memory,
/// so that dropping the pair in order destroys the VM first.
fn run_vm(
    kvm: &Kvm,
    args: &Args,
    out: &mut dyn Write,
) -> Result<(VmFd, Vec<(u64, Region)>), String> {
    let say = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let vm = if args.create_in_thread {
        // KVM records the creating thread; this one is gone once joined.
        let (vm, tid) = std::thread::scope(|scope| {
            scope
                .spawn(|| (create_vm(kvm, args), gettid()))
                .join()
                .map_err(|_| "the VM's creator thread panicked".to_string())
        })?;
        say(out, format!("CREATOR tid={tid}"));
        vm?
    } else {
        create_vm(kvm, args)?
    };
    say(
        out,
        format!("VMM pid={} vm_fd={}", std::process::id(), vm.as_raw_fd()),
    );

    // `--guest-reads`: every slot the guest's code reaches (address space
    // 0, below 4 GiB).
    let reads: Vec<(u64, u64)> = args
        .slots
        .iter()
        .filter(|s| args.guest_reads && s.as_id == 0 && s.gpa + s.size <= 1 << 32)
        .map(|s| (s.gpa, s.size / 4096))
        .collect();
    let code = guest_code::encode(&args.writes, &reads)?;
    let mut regions = Vec::new();
    let mut layout: Vec<(u64, u64, String, u16)> = args
        .slots
        .iter()
        .map(|s| (s.gpa, s.size, s.backing.to_string(), s.as_id))
        .collect();
    layout.push((CODE_GPA, CODE_SIZE, "code".into(), 0));
    for (id, (gpa, size, backing, as_id)) in layout.iter().enumerate() {
        let mut region = match args.slots.get(id) {
            Some(s) => memory::allocate(s.backing, *size as usize, args.touch_of(s), args.node)?,
            None => memory::allocate(
                args::Backing::Anon,
                *size as usize,
                args::Touch::InOrder,
                None,
            )?,
        };
        if args.slots.get(id).map(|s| s.backing) == Some(Backing::Gmem) {
            region.gmem = Some(set_gmem_slot(
                &vm,
                id as u32,
                *gpa,
                *size,
                region.addr as u64,
            )?);
        } else {
            let dirty_log = args
                .slots
                .get(id)
                .is_some_and(|s| args.dirty_log.iter().any(|&g| s.holds(g)));
            let flags = if dirty_log {
                KVM_MEM_LOG_DIRTY_PAGES
            } else {
                0
            };
            set_slot(
                &vm,
                id as u32,
                *as_id,
                *gpa,
                *size,
                region.addr as u64,
                flags,
            )?;
        }
        let phys = region
            .phys
            .map_or(String::new(), |p| format!(" phys={p:#x}"));
        say(
            out,
            format!(
                "SLOT id={id} as={as_id} gpa={gpa:#x} size={size:#x} hva={:#x} backing={backing}{phys}",
                region.addr as u64
            ),
        );
        regions.push((*gpa, region));
    }
    let code_region = &regions.last().ok_or("no code slot")?.1;
    if code.len() as u64 > CODE_SIZE {
        return Err(format!(
            "{} writes make too much guest code",
            args.writes.len()
        ));
    }
    // SAFETY: the code fits the code slot's live mapping (checked just
    // above) and no vCPU runs yet.
    unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), code_region.addr, code.len()) };

    vcpu::run_until_hlt(&vm, CODE_GPA)?;

    for &(gpa, value) in &args.writes {
        let (base, region) = regions
            .iter()
            .find(|(base, r)| gpa >= *base && gpa + 4 <= base + r.size as u64)
            .ok_or_else(|| format!("write at {gpa:#x} is in no slot"))?;
        let hva = region.addr as u64 + (gpa - base);
        // SAFETY: `hva..hva+4` lies in the live mapping found above.
        let got = unsafe { (hva as *const u32).read_volatile() };
        // A private page's store is in the guest_memfd, not at the HVA.
        let private = region.gmem.is_some() && gpa - base < region.size as u64 / 2;
        if got != value as u32 && !private {
            return Err(format!(
                "guest store at {gpa:#x} not seen: {got:#x} != {value:#x}"
            ));
        }
        say(
            out,
            format!("WROTE gpa={gpa:#x} value={value:#x} hva={hva:#x}"),
        );
    }
    for &gpa in &args.unmap {
        memory::unmap(region_of(&mut regions, gpa, "--unmap")?.1)?;
        say(out, format!("UNMAPPED gpa={gpa:#x}"));
    }
    for &gpa in &args.uffd {
        memory::never_resolve(region_of(&mut regions, gpa, "--uffd")?.1)?;
        say(out, format!("UFFD gpa={gpa:#x}"));
    }
    for &gpa in &args.mprotect {
        let (base, region) = region_of(&mut regions, gpa, "--mprotect")?;
        memory::read_only(region, gpa - base)?;
        say(out, format!("MPROTECTED gpa={gpa:#x}"));
    }
    Ok((vm, regions))
}

/// A new VM of the type `args`' memslots need.
fn create_vm(kvm: &Kvm, args: &Args) -> Result<VmFd, String> {
    // guest_memfd memslots need a VM type with private memory.
    if args.slots.iter().any(|s| s.backing == Backing::Gmem) {
        kvm.create_vm_with_type(u64::from(kvm_bindings::KVM_X86_SW_PROTECTED_VM))
            .map_err(|e| format!("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM): {e} (is CONFIG_KVM_SW_PROTECTED_VM on?)"))
    } else {
        kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))
    }
}

/// The calling thread's id.
fn gettid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// Whether the process's first thread has exited (its leader is a zombie
/// while other threads run): the state in `/proc/self/stat`.
fn leader_exited() -> bool {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

/// The guest address and region of the slot holding `gpa` (for option
/// `what`'s message).
fn region_of<'a>(
    regions: &'a mut [(u64, Region)],
    gpa: u64,
    what: &str,
) -> Result<(u64, &'a mut Region), String> {
    regions
        .iter_mut()
        .find(|(base, r)| gpa >= *base && gpa < *base + r.size as u64)
        .map(|(base, r)| (*base, r))
        .ok_or_else(|| format!("{what} {gpa:#x} is in no slot"))
}

/// Sets guest_memfd memslot `id` (address space 0) at `gpa`: a new
/// guest_memfd of `size` bytes, `hva` as its shared memory; its first half
/// is made private.  Returns the guest_memfd, which must stay open.
fn set_gmem_slot(
    vm: &VmFd,
    id: u32,
    gpa: u64,
    size: u64,
    hva: u64,
) -> Result<std::os::fd::OwnedFd, String> {
    use kvm_bindings::{
        kvm_create_guest_memfd, kvm_memory_attributes, kvm_userspace_memory_region2,
        KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_MEM_GUEST_MEMFD,
    };
    use std::os::fd::FromRawFd;
    let fd = vm
        .create_guest_memfd(kvm_create_guest_memfd {
            size,
            ..Default::default()
        })
        .map_err(|e| format!("KVM_CREATE_GUEST_MEMFD: {e}"))?;
    // SAFETY: `fd` is the descriptor just created, owned from here on.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let mem = kvm_userspace_memory_region2 {
        slot: id,
        flags: KVM_MEM_GUEST_MEMFD,
        guest_phys_addr: gpa,
        memory_size: size,
        userspace_addr: hva,
        guest_memfd_offset: 0,
        guest_memfd: fd as u32,
        ..Default::default()
    };
    // SAFETY: `hva` is a live mapping of `size` bytes kept until the VM is
    // gone, and `fd` a guest_memfd of `size` bytes kept as long.
    unsafe { vm.set_user_memory_region2(mem) }
        .map_err(|e| format!("KVM_SET_USER_MEMORY_REGION2 slot {id} at {gpa:#x}: {e}"))?;
    vm.set_memory_attributes(kvm_memory_attributes {
        address: gpa,
        size: size / 2,
        attributes: u64::from(KVM_MEMORY_ATTRIBUTE_PRIVATE),
        flags: 0,
    })
    .map_err(|e| format!("KVM_SET_MEMORY_ATTRIBUTES at {gpa:#x}: {e}"))?;
    Ok(owned)
}

/// Sets (or, with `size` 0, deletes) memslot `id` of address space `as_id`.
fn set_slot(
    vm: &VmFd,
    id: u32,
    as_id: u16,
    gpa: u64,
    size: u64,
    hva: u64,
    flags: u32,
) -> Result<(), String> {
    let mem = kvm_userspace_memory_region {
        slot: u32::from(as_id) << 16 | id,
        flags,
        guest_phys_addr: gpa,
        memory_size: size,
        userspace_addr: hva,
    };
    // SAFETY: the region is a live mapping of `size` bytes that this
    // process keeps until it exits, after the VM is gone.
    unsafe { vm.set_user_memory_region(mem) }
        .map_err(|e| format!("KVM_SET_USER_MEMORY_REGION slot {id} (as {as_id}) at {gpa:#x}: {e}"))
}

/// Deletes and re-adds the first slot until `stop` is set.
/// `hva` is where the slot's memory is mapped.
fn churn(vm: &VmFd, args: &Args, hva: u64, stop: &AtomicBool) -> Result<u64, String> {
    let Some(spec) = args.slots.first() else {
        return Ok(0);
    };
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        set_slot(vm, 0, spec.as_id, spec.gpa, 0, hva, 0)?;
        set_slot(vm, 0, spec.as_id, spec.gpa, spec.size, hva, 0)?;
        n += 1;
    }
    Ok(n)
}

/// `--thrash`: steps of `memory::thrash_step` on the first slot's memory
/// until `stop` is set; returns (steps, steps that did what they asked).
fn thrash(addr: usize, size: usize, stop: &AtomicBool) -> Result<(u64, u64), String> {
    let (mut n, mut done) = (0, 0);
    while size > 0 && !stop.load(Ordering::Relaxed) {
        done += u64::from(memory::thrash_step(addr, size, n)?);
        n += 1;
    }
    Ok((n, done))
}

fn run(args: &Args) -> Result<(), String> {
    let kvm = Kvm::new().map_err(|e| format!("open /dev/kvm: {e} (is KVM available?)"))?;
    if let Some(n) = args.cycles {
        for i in 0..n {
            let (vm, regions) =
                run_vm(&kvm, args, &mut std::io::sink()).map_err(|e| format!("cycle {i}: {e}"))?;
            drop(vm);
            drop(regions);
        }
        println!("CYCLES done={n}");
        return Ok(());
    }
    let mut out = std::io::stdout();
    // `--vms N`: more VMs of the same layout, held alongside the first.
    let mut more = Vec::new();
    for _ in 1..args.vms {
        more.push(run_vm(&kvm, args, &mut std::io::sink())?);
    }
    let (vm, mut regions) = run_vm(&kvm, args, &mut out)?;
    if args.main_exits {
        // The main thread exits once this thread has started (see main).
        while !leader_exited() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        println!("HOLDER tid={}", gettid());
    }
    println!("READY");

    match args.after {
        After::Exit => {}
        After::HoldSecs(s) => std::thread::sleep(std::time::Duration::from_secs(s)),
        After::Hold if args.churn => {
            let stop = AtomicBool::new(false);
            let hva = regions.first().map_or(0, |(_, r)| r.addr as u64);
            let n = std::thread::scope(|scope| {
                let churner = scope.spawn(|| churn(&vm, args, hva, &stop));
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                stop.store(true, Ordering::Relaxed);
                churner
                    .join()
                    .unwrap_or_else(|_| Err("churn thread panicked".into()))
            })?;
            // The reader of our stdout may be gone by now; that is fine.
            let _ = writeln!(std::io::stdout(), "CHURNED times={n}");
        }
        After::Hold if args.thrash => {
            let stop = AtomicBool::new(false);
            let (addr, size) = regions
                .first()
                .map_or((0, 0), |(_, r)| (r.addr as usize, r.size));
            let (n, done) = std::thread::scope(|scope| {
                let thrasher = scope.spawn(|| thrash(addr, size, &stop));
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                stop.store(true, Ordering::Relaxed);
                thrasher
                    .join()
                    .unwrap_or_else(|_| Err("thrash thread panicked".into()))
            })?;
            let _ = writeln!(std::io::stdout(), "THRASHED steps={n} done={done}");
        }
        After::Hold => {
            // Commands, one per line, until an empty line or EOF.
            let mut line = String::new();
            while std::io::stdin().lock().read_line(&mut line).unwrap_or(0) > 0 {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    // Show the mmap lock is free (to the tests).
                    ["mmap"] => {
                        memory::map_and_unmap()?;
                        println!("MMAPPED");
                    }
                    // Memslot ID anew at GPA with SIZE bytes of its memory.
                    ["slot", id, gpa, size] => {
                        let (id, gpa, size) = (
                            args::parse_num(id)?,
                            args::parse_num(gpa)?,
                            args::parse_num(size)?,
                        );
                        let (_, region) = regions
                            .get(id as usize)
                            .ok_or_else(|| format!("no slot {id}"))?;
                        if size > region.size as u64 {
                            return Err(format!(
                                "slot {id}: {size:#x} bytes is more than its memory"
                            ));
                        }
                        let hva = region.addr as u64;
                        set_slot(&vm, id as u32, 0, 0, 0, hva, 0)?;
                        set_slot(&vm, id as u32, 0, gpa, size, hva, 0)?;
                        println!("SLOT-SET id={id} gpa={gpa:#x} size={size:#x}");
                    }
                    // Make the page at GPA read-only (a THP around it is
                    // then mapped by PTEs), or writable again and its 2 MiB
                    // collapsed into a THP (MADV_COLLAPSE).
                    ["protect", gpa] | ["collapse", gpa] => {
                        let gpa = args::parse_num(gpa)?;
                        let (base, region) = region_of(&mut regions, gpa, words[0])?;
                        if words[0] == "protect" {
                            memory::read_only(region, gpa - base)?;
                            println!("PROTECTED gpa={gpa:#x}");
                        } else {
                            let done = memory::collapse(region, gpa - base)?;
                            println!("COLLAPSED gpa={gpa:#x} done={}", u8::from(done));
                        }
                    }
                    // Close the slot's userfaultfd: waiting faults go on.
                    ["resolve", gpa] => {
                        let gpa = args::parse_num(gpa)?;
                        let (_, region) = region_of(&mut regions, gpa, words[0])?;
                        region
                            .uffd
                            .take()
                            .ok_or_else(|| format!("resolve {gpa:#x}: no userfaultfd there"))?;
                        println!("RESOLVED gpa={gpa:#x}");
                    }
                    // Drop SIZE bytes of guest memory at GPA (MADV_DONTNEED).
                    ["drop", gpa, size] => {
                        let (gpa, size) = (args::parse_num(gpa)?, args::parse_num(size)?);
                        let (base, region) = region_of(&mut regions, gpa, words[0])?;
                        memory::drop_pages(region, gpa - base, size)?;
                        println!("DROPPED gpa={gpa:#x} size={size:#x}");
                    }
                    // Move memslot ID's memory elsewhere (mremap); the
                    // memslot keeps the old address.
                    ["mremap", id] => {
                        let id = args::parse_num(id)?;
                        let (_, region) = regions
                            .get_mut(id as usize)
                            .ok_or_else(|| format!("no slot {id}"))?;
                        let to = memory::move_away(region)?;
                        println!("MREMAPPED id={id} hva={to:#x}");
                    }
                    _ => break,
                }
                line.clear();
            }
        }
    }
    drop(vm);
    drop(regions);
    drop(more);
    Ok(())
}

/// Runs the calling thread, and the threads it starts, on CPU `cpu` only.
fn pin(cpu: usize) -> Result<(), String> {
    if cpu >= rustix::thread::CpuSet::MAX_CPU {
        return Err(format!("--cpu {cpu}: past the last CPU a CPU set holds"));
    }
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).map_err(|e| format!("--cpu {cpu}: {e}"))
}

/// Runs the VMM and exits with its status.
fn run_and_exit(args: &Args) -> ! {
    if let Err(e) = run(args) {
        eprintln!("gfn-vmm: {e}");
        std::process::exit(1);
    }
    std::process::exit(0)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = Args::parse_or_exit(&argv);
    if let Some(cpu) = args.cpu {
        // Before any thread starts: they all inherit it.
        if let Err(e) = pin(cpu) {
            eprintln!("gfn-vmm: {e}");
            std::process::exit(1);
        }
    }
    if !args.main_exits {
        run_and_exit(&args);
    }
    // `--main-exits`: another thread is the VMM, and this one exits alone
    // (SYS_exit, not exit_group): the process lives on with a zombie
    // leader, whose file table and mm are gone.
    std::thread::spawn(move || run_and_exit(&args));
    // SAFETY: exit(2) ends this thread only; it returns no value to Rust
    // and runs no Rust code after it, so nothing of it is used again.
    // (rustix has it only in its `runtime` API, which is not stable.)
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("exit(2) returned");
}
