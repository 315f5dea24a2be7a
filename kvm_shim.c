// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_shim: proc_ops glue, vm_list walk, memslot lookup and the page walk
 * for gfn_to_pfn.  Kept thin on purpose: it reports facts and takes and
 * drops references; the Rust side decides what to do with them.
 */

#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>

#include "kvm_shim.h"

/*
 * procfs gives its regular files FMODE_ATOMIC_POS, so that read, write and
 * lseek on a file shared by two tasks take the VFS f_pos_lock, with a
 * mutex_lock() whose wait cannot be killed, across the whole callback,
 * which may wait on a fault that never finishes (userfaultfd, FUSE, NFS).
 * Each callback serialises the file's state itself, with a lock whose wait
 * can be killed (module/killable.rs), so the file does without it: a task
 * sharing it with one stuck in a fault can still be killed.  What is lost
 * is only POSIX's atomic position for two reads at once of one shared
 * file: each read is whole, but both may start at the same position, as
 * on a character device.
 */
static int gfn_proc_open(struct inode *inode, struct file *file)
{
	int ret = gfn_rs_open(&file->private_data);

	if (!ret)
		file->f_mode &= ~FMODE_ATOMIC_POS;
	return ret;
}

static int gfn_proc_release(struct inode *inode, struct file *file)
{
	gfn_rs_release(file->private_data);
	return 0;
}

/*
 * Each callback that may wait holds a reference on the module: rmmod then
 * fails at once (EBUSY) while one runs, instead of waiting, without a way
 * to be killed, in remove_proc_entry() for a reader stuck in a fault.  A
 * callback that starts once the module is going fails with ENODEV.
 */
static ssize_t gfn_proc_read(struct file *file, char __user *buf, size_t len,
			     loff_t *pos)
{
	ssize_t ret;

	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	ret = gfn_rs_read(file->private_data, buf, len, pos);
	module_put(THIS_MODULE);
	return ret;
}

static ssize_t gfn_proc_write(struct file *file, const char __user *buf,
			      size_t len, loff_t *pos)
{
	ssize_t ret;

	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	ret = gfn_rs_write(file->private_data, buf, len, pos);
	module_put(THIS_MODULE);
	return ret;
}

static loff_t gfn_proc_lseek(struct file *file, loff_t off, int whence)
{
	loff_t len;

	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	len = gfn_rs_reply_len(file->private_data);
	module_put(THIS_MODULE);
	if (len < 0)
		return len;	/* killed while waiting for the file */
	return fixed_size_llseek(file, off, whence, len);
}

static __poll_t gfn_proc_poll(struct file *file, struct poll_table_struct *pt)
{
	return (__force __poll_t)gfn_rs_poll(file->private_data);
}

static const struct proc_ops gfn_proc_ops = {
	.proc_open = gfn_proc_open,
	.proc_release = gfn_proc_release,
	.proc_read = gfn_proc_read,
	.proc_write = gfn_proc_write,
	.proc_lseek = gfn_proc_lseek,
	.proc_poll = gfn_proc_poll,
};

int gfn_shim_proc_create(const char *name, umode_t mode)
{
	return proc_create(name, mode, NULL, &gfn_proc_ops) ? 0 : -ENOMEM;
}

/* Waits for running callbacks and releases files still open. */
void gfn_shim_proc_remove(const char *name)
{
	remove_proc_entry(name, NULL);
}

/*
 * The "log" module parameter (/sys/module/gfn_to_pfn/parameters/log): what
 * goes to the kernel log.  Module parameters are not reachable from Rust
 * on 6.12; the shim only stores the setting, module/log.rs acts on it and
 * reads the levels as 0, 1, 2 in this order.
 */
static const char * const gfn_log_names[] = { "all", "summary", "none" };
static int gfn_log_level;
/* Counts writes to the parameter: each starts a new rate-limit interval. */
static atomic_t gfn_log_writes;

static int gfn_log_set(const char *val, const struct kernel_param *kp)
{
	int level = sysfs_match_string(gfn_log_names, val);

	if (level < 0)
		return -EINVAL;
	WRITE_ONCE(gfn_log_level, level);
	atomic_inc(&gfn_log_writes);
	return 0;
}

static int gfn_log_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 gfn_log_names[READ_ONCE(gfn_log_level)]);
}

static const struct kernel_param_ops gfn_log_ops = {
	.set = gfn_log_set,
	.get = gfn_log_get,
};

module_param_cb(log, &gfn_log_ops, NULL, 0644);
MODULE_PARM_DESC(log, "all (default): single addresses and summaries, rate-limited; summary: range and all summaries only; none");

u32 gfn_shim_log_level(u32 *writes)
{
	*writes = atomic_read(&gfn_log_writes);
	return READ_ONCE(gfn_log_level);
}

/*
 * The VMM of @kvm as the caller's pid namespace sees it: the process (the
 * thread group) whose address space is the VM's, kvm->mm, or 0 when no
 * live thread of it is visible there.  kvm->userspace_pid names only the
 * thread that created the VM, which may have exited (or not be set: KVM
 * sets it on its uevent path, after an allocation that may fail), so it is
 * only where the search starts; when that thread is gone or is another
 * process's now, every thread is looked at, under RCU.  Threads are
 * looked at rather than processes because a process whose first thread
 * has exited has a leader without an mm.
 */
static pid_t gfn_shim_vmm_pid(struct kvm *kvm)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct task_struct *p, *t;
	pid_t nr = 0;

	rcu_read_lock();
	t = pid_task(find_pid_ns(kvm->userspace_pid, &init_pid_ns),
		     PIDTYPE_PID);
	if (t && READ_ONCE(t->mm) == kvm->mm) {
		nr = task_tgid_nr_ns(t, ns);
		goto out;
	}
	for_each_process_thread(p, t) {
		if (READ_ONCE(t->mm) == kvm->mm) {
			nr = task_tgid_nr_ns(t, ns);
			goto out;
		}
	}
out:
	rcu_read_unlock();
	return nr;
}

/*
 * The address space of @task's process, referenced (mmput() it): any live
 * thread's, since the leader of a process whose first thread has exited
 * has none.  NULL when every thread has exited.
 */
static struct mm_struct *gfn_shim_group_mm(struct task_struct *task)
{
	struct mm_struct *mm = NULL;
	struct task_struct *t;

	rcu_read_lock();
	for_each_thread(task, t) {
		mm = get_task_mm(t);
		if (mm)
			break;
	}
	rcu_read_unlock();
	return mm;
}

/*
 * The process of thread @nr of the caller's pid namespace (its thread
 * group id there), or 0 when there is no such thread.
 */
pid_t gfn_shim_process(pid_t nr)
{
	struct task_struct *task;
	pid_t tgid = 0;

	rcu_read_lock();
	task = pid_task(find_vpid(nr), PIDTYPE_PID);
	if (task)
		tgid = task_tgid_vnr(task);
	rcu_read_unlock();
	return tgid;
}

/*
 * A VM is named across system calls without holding it: by its VMM (a
 * referenced struct pid of its thread group, which names that process for
 * as long as it is held: its number may be reused once the process is
 * reaped, but by a new struct pid) and the address of its struct kvm,
 * compared, never dereferenced, until the VM is found again.  Each system call finds the VM again among the VMM's open
 * files and holds it only through a reference on that file, which also
 * pins the vendor module (kvm_amd, kvm_intel: the owner of the VM file's
 * operations) the way the VMM's own descriptor does.  A kvm_get_kvm_safe()
 * reference would not: put after the VMM exits and the vendor module is
 * unloaded, it runs kvm_destroy_vm() into unloaded code.
 */

/*
 * Finds the VM whose VMM is the process of thread @nr (in the caller's pid
 * namespace) or, with @nr 0, the newest VM whose VMM the caller can see;
 * matching on the mm rather than kvm->userspace_pid finds it from any
 * thread of its VMM.  A non-zero *@kvm_id on entry (an id from
 * gfn_shim_vms()) asks for that VM only, for a VMM with several.  Sets
 * @vmm (the VMM's thread group, referenced: put it with
 * gfn_shim_vmm_put()), @kvm_id and @vmm_pid (the VMM's process id in the
 * caller's namespace).  Returns 0, -ESRCH when there is no such VM, or
 * -EINTR when a fatal signal ended the wait for kvm_lock.
 */
int gfn_shim_vm_find(pid_t nr, void **vmm, unsigned long *kvm_id,
		     pid_t *vmm_pid)
{
	struct task_struct *task = NULL;
	struct mm_struct *mm = NULL;
	unsigned long want = *kvm_id;
	struct kvm *kvm;
	int ret = -ESRCH;

	*vmm = NULL;
	if (nr) {
		struct pid *pid = find_get_pid(nr);

		task = get_pid_task(pid, PIDTYPE_PID);
		put_pid(pid);
		if (!task)
			return -ESRCH;
		mm = gfn_shim_group_mm(task);
		if (!mm)
			goto out;
	}
	/* KVM holds kvm_lock across every VM's slots_lock: this may wait. */
	if (mutex_lock_killable(&kvm_lock)) {
		ret = -EINTR;
		goto out_mm;
	}
	list_for_each_entry(kvm, &vm_list, vm_list) {
		pid_t seen;

		if (!refcount_read(&kvm->users_count))
			continue;	/* being destroyed */
		if ((mm && kvm->mm != mm) || (want && (unsigned long)kvm != want))
			continue;
		seen = gfn_shim_vmm_pid(kvm);
		if (!mm && !seen)
			continue;	/* a VMM the caller cannot see */
		if (mm) {
			*vmm = get_task_pid(task, PIDTYPE_TGID);
		} else {
			rcu_read_lock();
			*vmm = get_pid(find_vpid(seen));
			rcu_read_unlock();
		}
		if (!*vmm)
			continue;	/* its VMM exited meanwhile */
		*kvm_id = (unsigned long)kvm;
		*vmm_pid = mm ? task_tgid_vnr(task) : seen;
		ret = 0;
		break;
	}
	mutex_unlock(&kvm_lock);
out_mm:
	if (mm)
		mmput(mm);
out:
	if (task)
		put_task_struct(task);
	return ret;
}

void gfn_shim_vmm_put(void *vmm)
{
	put_pid(vmm);
}

struct gfn_shim_vm_match {
	unsigned long kvm_id;
	struct file *file;
};

/* Under the file table's lock: an installed file is referenced. */
static int gfn_shim_vm_file(const void *p, struct file *file, unsigned int fd)
{
	struct gfn_shim_vm_match *m = (struct gfn_shim_vm_match *)p;

	if (!file_is_kvm(file) || (unsigned long)file->private_data != m->kvm_id)
		return 0;
	m->file = get_file(file);
	return 1;
}

/*
 * The VM @kvm_id of process @vmm, found among its open files: a referenced
 * VM file (put it with gfn_shim_vm_close()), or NULL when the process has
 * exited or no longer has the VM open.  Every live thread's file table is
 * searched (each one once in a row of threads sharing it): the leader's is
 * gone when the first thread has exited, and a thread may have a table of
 * its own (unshare(CLONE_FILES)).
 */
void *gfn_shim_vm_open(void *vmm, unsigned long kvm_id)
{
	struct gfn_shim_vm_match m = { .kvm_id = kvm_id };
	struct files_struct *searched = NULL;
	struct task_struct *leader, *t;

	rcu_read_lock();
	leader = pid_task(vmm, PIDTYPE_TGID);
	if (leader) {
		for_each_thread(leader, t) {
			/*
			 * task_lock keeps t->files; iterate_fd takes the
			 * table's lock.  Neither sleeps.
			 */
			task_lock(t);
			if (t->files && t->files != searched) {
				searched = t->files;
				iterate_fd(t->files, 0, gfn_shim_vm_file, &m);
			}
			task_unlock(t);
			if (m.file)
				break;
		}
	}
	rcu_read_unlock();
	return m.file;
}

void gfn_shim_vm_close(void *file)
{
	fput(file);
}

/* The struct kvm of a VM file from gfn_shim_vm_open(). */
void *gfn_shim_vm_kvm(void *file)
{
	return ((struct file *)file)->private_data;
}

/*
 * Facts about every live VM on vm_list (newest first) whose VMM the caller's
 * pid namespace can see, with the VMM's pid there, in one pass under
 * one kvm_lock hold, so the listing is consistent: a VM alive throughout
 * is in it once.  Fills at most @max entries of @out and returns how many
 * live VMs there are (more than @max means the caller needs more room), or
 * -EINTR when a fatal signal ended the wait for kvm_lock.
 * kvm_lock keeps every listed VM and its memslots alive (kvm_destroy_vm
 * unlists it first), so no reference is taken: dropping one here could
 * destroy the VM, which takes kvm_lock.
 */
long gfn_shim_vms(struct gfn_shim_vm *out, u32 max)
{
	struct kvm_memory_slot *slot;
	struct kvm *kvm;
	int as, bkt, idx;
	long n = 0;

	if (mutex_lock_killable(&kvm_lock))
		return -EINTR;
	list_for_each_entry(kvm, &vm_list, vm_list) {
		pid_t pid = gfn_shim_vmm_pid(kvm);

		/* Not yet set up (no pid), or a VMM the caller cannot see. */
		if (!refcount_read(&kvm->users_count) || !pid)
			continue;
		if (n < max) {
			out[n].pid = pid;
			out[n].kvm_id = (unsigned long)kvm;
			out[n].slots = 0;
			out[n].pages = 0;
			idx = srcu_read_lock(&kvm->srcu);
			for (as = 0; as < kvm_arch_nr_memslot_as_ids(kvm); as++) {
				kvm_for_each_memslot(slot, bkt,
						     __kvm_memslots(kvm, as)) {
					out[n].slots++;
					out[n].pages += slot->npages;
				}
			}
			srcu_read_unlock(&kvm->srcu, idx);
		}
		n++;
	}
	mutex_unlock(&kvm_lock);
	return n;
}

static void gfn_shim_slot_facts(struct kvm_memory_slot *slot,
				struct gfn_shim_slot *out)
{
	out->base_gfn = slot->base_gfn;
	out->npages = slot->npages;
	out->hva = slot->userspace_addr;
	out->flags = slot->flags & 0xffff;	/* the KVM_MEM_* uapi bits */
	out->id = slot->id;
	out->as_id = slot->as_id;
}

/*
 * The memslot of address space @as_id holding @gfn or, failing that, the
 * first one above it.  -EINVAL for an address space the VM does not have,
 * -ENOENT when no memslot is left.
 */
int gfn_shim_slot_find(void *vm, u32 as_id, u64 gfn, struct gfn_shim_slot *out)
{
	struct kvm *kvm = vm;
	struct kvm_memslot_iter iter;
	int idx, ret = -ENOENT;

	if (as_id >= kvm_arch_nr_memslot_as_ids(kvm))
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	kvm_for_each_memslot_in_gfn_range(&iter, __kvm_memslots(kvm, as_id),
					  gfn, U64_MAX) {
		if (iter.slot->flags & KVM_MEMSLOT_INVALID)
			continue;
		gfn_shim_slot_facts(iter.slot, out);
		ret = 0;
		break;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Faults in the @nr pages at @hva for reading (mode=fault) and describes
 * them, @out having room for @nr entries: gup faults pages in, and may drop
 * the mmap lock while a fault waits (*@locked tells), and the page walk
 * describes what it brought in.  Pages gup cannot get are described by
 * the walk (what the VMA says) with gup's error.  Returns the number of
 * entries, or -EINTR.
 */
static long gfn_shim_fault(struct mm_struct *mm, unsigned long hva, u32 nr,
			   struct page **pages, struct gfn_shim_page *out,
			   int *locked)
{
	long err, got, i, n = 0;
	u32 done = 0, covered;

	while (done < nr) {
		if (!*locked) {
			if (fatal_signal_pending(current) ||
			    mmap_read_lock_killable(mm))
				return -EINTR;
			*locked = 1;
		}
		got = get_user_pages_remote(mm, hva + done * PAGE_SIZE,
					    nr - done, 0, pages, locked);
		if (got == -EINTR || got == -ERESTARTSYS)
			return -EINTR;
		/*
		 * One put_page() per reference gup took, as gup's own callers
		 * do: folio_put_refs() would skip put_page()'s device-managed
		 * path, where an fsdax page's count falling to 1 wakes a
		 * waiting layout break.
		 */
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		/* The walk and the VMA are read under the lock gup may drop. */
		if (!*locked) {
			if (mmap_read_lock_killable(mm))
				return -EINTR;
			*locked = 1;
		}
		if (got <= 0) {
			/*
			 * This page has none (gup may get the next ones): the
			 * walk says what the VMA is, gup's error says why.
			 */
			err = got ? got : -EFAULT;
			got = gfn_page_walk(mm, hva + done * PAGE_SIZE, 1,
					    out + n, nr - n, &covered);
			if (got < 0)
				return got;
			if (got && out[n].err)
				out[n].err = err;
			n += got;
			done++;
			continue;
		}
		got = gfn_page_walk(mm, hva + done * PAGE_SIZE, got, out + n,
				    nr - n, &covered);
		if (got < 0)
			return got;
		n += got;
		done += covered;
		if (!covered)
			break;	/* cannot happen: each entry is a page or more */
	}
	return n;
}

#ifdef CONFIG_KVM_PRIVATE_MEM
/*
 * The @nr private gfns from @gfn of guest_memfd memslot @ms, found in the
 * SRCU section @idx, which this ends: described from the guest_memfd, whose
 * file is referenced only for the lookups.  A file being closed has no
 * pages to tell: they read as not present.
 */
static long gfn_shim_private(struct kvm *kvm, int idx,
			     struct kvm_memory_slot *ms, u64 gfn, u32 nr,
			     struct gfn_shim_page *out)
{
	struct file *file = get_file_active(&ms->gmem.file);
	pgoff_t index = ms->gmem.pgoff + gfn - ms->base_gfn;
	long n;

	srcu_read_unlock(&kvm->srcu, idx);
	if (!file) {
		out[0] = (struct gfn_shim_page) {
			.pages = nr, .err = -EFAULT, .flags = GFN_SHIM_PAGE_GMEM,
		};
		return 1;
	}
	n = gfn_gmem_walk(file, index, nr, out, nr);
	fput(file);
	return n;
}
#endif

/*
 * Describes the host pages behind guest frames @gfn.. of @kvm (held by the
 * caller through its VM file): up to @nr pages, stopping at the end of the
 * memslot holding @gfn, whose facts go to @slot, or when @max entries of
 * @out are filled.  Each entry covers consecutive pages with the same facts
 * (see struct gfn_shim_page).  Faulting in (!@nofault) needs @max >= @nr and
 * @scratch room for @nr page pointers; a guest_memfd's private pages are
 * read at most @max at a time.  One
 * SRCU section finds the memslot; one mm reference covers the batch, under
 * the mmap lock.  With @nofault the VMM's page tables are read (page_walk.c)
 * and nothing is faulted in, swapped in, allocated or touched: pages not
 * mapped get err -EFAULT.  Otherwise gup faults them in first.  An entry
 * with err also says what the VMA is (flags).  Returns the number of
 * entries, -ENOENT (no memslot), -EINVAL (bad @as_id), -ESRCH (VMM mm gone)
 * or -EINTR (fatal signal).
 */
long gfn_shim_walk(void *vm, u32 as_id, u64 gfn, u32 nr, u32 max,
		   bool nofault, void **scratch, struct gfn_shim_slot *slot,
		   struct gfn_shim_page *out)
{
	struct kvm *kvm = vm;
	struct kvm_memory_slot *ms;
	unsigned long hva;
	int idx, locked = 0;
	u32 covered;
	long n;

	if (as_id >= kvm_arch_nr_memslot_as_ids(kvm))
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	ms = __gfn_to_memslot(__kvm_memslots(kvm, as_id), gfn);
	if (!ms || (ms->flags & KVM_MEMSLOT_INVALID)) {
		srcu_read_unlock(&kvm->srcu, idx);
		return -ENOENT;
	}
	gfn_shim_slot_facts(ms, slot);
	nr = min_t(u64, nr, ms->base_gfn + ms->npages - gfn);
	hva = __gfn_to_hva_memslot(ms, gfn);
#ifdef CONFIG_KVM_PRIVATE_MEM
	if (ms->flags & KVM_MEM_GUEST_MEMFD) {
		bool private;

		/* This batch: gfns of one memory attribute. */
		nr = gfn_gmem_run(kvm, gfn, min(nr, max), &private);
		if (private)
			return gfn_shim_private(kvm, idx, ms, gfn, nr, out);
	}
#endif
	srcu_read_unlock(&kvm->srcu, idx);

	if (!mmget_not_zero(kvm->mm))
		return -ESRCH;
	if (nofault) {
		n = -EINTR;
		if (!mmap_read_lock_killable(kvm->mm)) {
			locked = 1;
			n = gfn_page_walk(kvm->mm, hva, nr, out, max, &covered);
		}
	} else {
		/*
		 * Every wait can be killed, and gup may drop the mmap lock
		 * while it faults, so a fault that never finishes
		 * (userfaultfd, FUSE, NFS) holds neither the VMM's mmap lock
		 * nor this task.
		 */
		n = gfn_shim_fault(kvm->mm, hva, nr, (struct page **)scratch,
				   out, &locked);
	}
	if (locked)
		mmap_read_unlock(kvm->mm);
	mmput(kvm->mm);
	/* A map or a reverse lookup is many walks in one system call. */
	cond_resched();
	return n;
}

/*
 * A mutex whose wait a fatal signal ends: the kernel crate's Mutex has no
 * killable lock on 6.12, and mutex_init() and mutex_lock_killable() are
 * macros under lockdep.  One lock class for every open file's mutex.
 */
void gfn_shim_mutex_init(void *lock)
{
	mutex_init((struct mutex *)lock);
}

int gfn_shim_mutex_lock_killable(void *lock)
{
	return mutex_lock_killable((struct mutex *)lock);
}

void gfn_shim_mutex_unlock(void *lock)
{
	mutex_unlock((struct mutex *)lock);
}
