// SPDX-License-Identifier: GPL-2.0
/*
 * vm_file: a VM named across system calls without holding it, and found
 * again in each.  Its name is its VMM (a referenced struct pid of its
 * thread group, which names that process for as long as it is held: its
 * number may be reused once the process is reaped, but by a new struct
 * pid) and the address of its struct kvm, compared, never dereferenced,
 * until the VM is found again among the VMM's open files.  A VM found is
 * held only through a reference on that file, which also pins the vendor
 * module (kvm_amd, kvm_intel: the owner of the VM file's operations) the
 * way the VMM's own descriptor does.  A kvm_get_kvm_safe() reference would
 * not: put after the VMM exits and the vendor module is unloaded, it runs
 * kvm_destroy_vm() into unloaded code.
 */

#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "shim.h"
#include "symbols.h"

/*
 * The process of thread @nr of the caller's pid namespace: its thread
 * group id there and its address space (any live thread's: the leader of
 * a process whose first thread has exited has none): whether there is
 * such a thread with an address space.  When it is and @vmm is not NULL,
 * *@vmm is the process, referenced (put it with gfn_vmm_put()).
 */
bool gfn_task_facts(pid_t nr, struct gfn_task_facts *out, struct pid **vmm)
{
	struct task_struct *task, *t;
	bool found = false;

	rcu_read_lock();
	task = pid_task(find_vpid(nr), PIDTYPE_PID);
	if (task && !(task->flags & PF_KTHREAD)) {
		out->tgid = task_tgid_vnr(task);
		out->mm_id = 0;
		for_each_thread(task, t) {
			out->mm_id = (unsigned long)READ_ONCE(t->mm);
			if (out->mm_id)
				break;
		}
		found = out->mm_id;
		if (found && vmm)
			*vmm = get_pid(task_tgid(task));
	}
	rcu_read_unlock();
	return found;
}

/*
 * The process @tgid of the caller's pid namespace, referenced (put it with
 * gfn_vmm_put()), or NULL when no thread group has that id.
 */
struct pid *gfn_vmm_get(pid_t tgid)
{
	struct pid *pid;

	rcu_read_lock();
	pid = find_vpid(tgid);
	if (!pid_task(pid, PIDTYPE_TGID))
		pid = NULL;
	pid = get_pid(pid);
	rcu_read_unlock();
	return pid;
}

void gfn_vmm_put(struct pid *vmm)
{
	put_pid(vmm);
}

struct gfn_vm_match {
	u64 kvm_id;
	struct file *file;
	unsigned int fd;
};

/* Under the file table's lock: an installed file is referenced. */
static int gfn_vm_match_file(const void *p, struct file *file, unsigned int fd)
{
	struct gfn_vm_match *m = (struct gfn_vm_match *)p;

	if (!GFN_SYM(file_is_kvm)(file) || (unsigned long)file->private_data != m->kvm_id)
		return 0;
	m->file = get_file(file);
	m->fd = fd;
	return 1;
}

/*
 * The VM @kvm_id of process @vmm, found among its open files from
 * descriptor @from on: a referenced VM file (put it with gfn_vm_close()),
 * its descriptor in *@fd, or NULL when the process has exited or has no
 * such file open there.  Every live thread's file table is searched (each
 * one once in a row of threads sharing it): the leader's is gone when the
 * first thread has exited, and a thread may have a table of its own
 * (unshare(CLONE_FILES)).
 */
struct file *gfn_vm_open(struct pid *vmm, u64 kvm_id, unsigned int from,
			 unsigned int *fd)
{
	struct gfn_vm_match m = { .kvm_id = kvm_id };
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
				iterate_fd(t->files, from, gfn_vm_match_file, &m);
			}
			task_unlock(t);
			if (m.file)
				break;
		}
	}
	rcu_read_unlock();
	*fd = m.fd;
	return m.file;
}

void gfn_vm_close(struct file *file)
{
	fput(file);
}

/* The struct kvm of a VM file from gfn_vm_open(). */
struct kvm *gfn_vm_kvm(struct file *file)
{
	return file->private_data;
}
