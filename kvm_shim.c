// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_shim: proc_ops glue, vm_list walk, memslot lookup and the page walk
 * for gfn_to_pfn.  Kept thin on purpose: it reports facts and takes and
 * drops references; the Rust side decides what to do with them.
 */

#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>

#include "kvm_shim.h"

static int gfn_proc_open(struct inode *inode, struct file *file)
{
	return gfn_rs_open(&file->private_data);
}

static int gfn_proc_release(struct inode *inode, struct file *file)
{
	gfn_rs_release(file->private_data);
	return 0;
}

static ssize_t gfn_proc_read(struct file *file, char __user *buf, size_t len,
			     loff_t *pos)
{
	return gfn_rs_read(file->private_data, buf, len, pos);
}

static ssize_t gfn_proc_write(struct file *file, const char __user *buf,
			      size_t len, loff_t *pos)
{
	return gfn_rs_write(file->private_data, buf, len, pos);
}

static loff_t gfn_proc_lseek(struct file *file, loff_t off, int whence)
{
	return fixed_size_llseek(file, off, whence,
				 gfn_rs_reply_len(file->private_data));
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

/* The address space of process @nr as the caller sees it, referenced. */
static struct mm_struct *gfn_shim_task_mm(pid_t nr)
{
	struct task_struct *task;
	struct mm_struct *mm;
	struct pid *pid;

	pid = find_get_pid(nr);
	if (!pid)
		return NULL;
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!task)
		return NULL;
	mm = get_task_mm(task);
	put_task_struct(task);
	return mm;
}

/*
 * Returns a referenced VM: the one whose VMM is process @pid, or the first
 * on vm_list when @pid is 0; NULL when there is none.  Matching on the mm
 * rather than kvm->userspace_pid finds the VM from any thread of its VMM.
 * kvm_get_kvm_safe() under kvm_lock fails for a VM that is being destroyed.
 */
void *gfn_shim_vm_get(pid_t pid, pid_t *vmm_pid)
{
	struct mm_struct *mm = NULL;
	struct kvm *kvm, *found = NULL;

	if (pid) {
		mm = gfn_shim_task_mm(pid);
		if (!mm)
			return NULL;
	}
	mutex_lock(&kvm_lock);
	list_for_each_entry(kvm, &vm_list, vm_list) {
		if (mm && kvm->mm != mm)
			continue;
		if (kvm_get_kvm_safe(kvm)) {
			found = kvm;
			*vmm_pid = kvm->userspace_pid;
			break;
		}
	}
	mutex_unlock(&kvm_lock);
	if (mm)
		mmput(mm);
	return found;
}

void gfn_shim_vm_put(void *kvm)
{
	kvm_put_kvm(kvm);
}

/* The host virtual address of @gfn, or -ENOENT outside every memslot. */
static int gfn_shim_gfn_to_hva(struct kvm *kvm, gfn_t gfn, u64 *hva,
			       s32 *slot_id)
{
	struct kvm_memory_slot *slot;
	int idx, ret = -ENOENT;

	idx = srcu_read_lock(&kvm->srcu);
	slot = gfn_to_memslot(kvm, gfn);
	if (slot && !(slot->flags & KVM_MEMSLOT_INVALID)) {
		*hva = __gfn_to_hva_memslot(slot, gfn);
		*slot_id = slot->id;
		ret = 0;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Looks up @gpa in @kvm (referenced by the caller) and fills @out with the
 * host page behind it.  The VMM's mm is pinned and its mmap lock held
 * around get_user_pages_remote(); the page is put back before returning.
 * Returns 0, -ENOENT (no memslot), -ESRCH (VMM mm gone) or gup's error.
 */
int gfn_shim_translate(void *vm, u64 gpa, struct gfn_shim_page *out)
{
	struct kvm *kvm = vm;
	struct folio *folio;
	struct page *page;
	long got;
	u64 hva;
	int ret;

	ret = gfn_shim_gfn_to_hva(kvm, gpa_to_gfn(gpa), &hva, &out->slot_id);
	if (ret)
		return ret;
	out->hva = hva | offset_in_page(gpa);

	if (!mmget_not_zero(kvm->mm))
		return -ESRCH;
	mmap_read_lock(kvm->mm);
	got = get_user_pages_remote(kvm->mm, hva, 1, 0, &page, NULL);
	if (got == 1) {
		folio = page_folio(page);
		out->pfn = page_to_pfn(page);
		out->folio_size = folio_size(folio);
		out->flags = 0;
		if (folio_test_hugetlb(folio))
			out->flags |= GFN_SHIM_PAGE_HUGETLB;
		if (folio_test_large(folio))
			out->flags |= GFN_SHIM_PAGE_LARGE;
		put_page(page);
		ret = 0;
	} else {
		ret = got < 0 ? got : -EFAULT;
	}
	mmap_read_unlock(kvm->mm);
	mmput(kvm->mm);
	return ret;
}
