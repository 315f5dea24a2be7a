// SPDX-License-Identifier: GPL-2.0
/*
 * kallsyms: /proc/kallsyms, read by module init as the loading task reads
 * it: opened with that task's credentials, so the kernel shows addresses
 * exactly when it would show them to that task (kernel.kptr_restrict,
 * CAP_SYSLOG).  In C because the kernel crate has no file API.  The file
 * has a read method and no read_iter, which kernel_read() refuses; so it is
 * read, as a read(2) of the loading task would, into a private anonymous
 * mapping of that task, unmapped again before init returns, and copied
 * from there.  What is read is parsed in Rust (tools/proto/src/kallsyms.rs).
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kallsyms.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "shim.h"

/*
 * Opens /proc/kallsyms into @k.  -ESRCH when the task has no address space
 * to read into (a kernel thread), or the error of opening or mapping.
 */
int gfn_kallsyms_open(struct gfn_kallsyms *k)
{
	struct file *file;
	unsigned long ubuf = 0;

	file = filp_open("/proc/kallsyms", O_RDONLY, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);
	if (!file->f_op->read_iter) {
		if (!current->mm) {
			filp_close(file, NULL);
			return -ESRCH;
		}
		ubuf = vm_mmap(NULL, 0, GFN_KALLSYMS_CHUNK,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, 0);
		if (IS_ERR_VALUE(ubuf)) {
			filp_close(file, NULL);
			return (int)ubuf;
		}
	}
	k->file = file;
	k->ubuf = ubuf;
	k->pos = 0;
	return 0;
}

/*
 * Reads the next at most @len (<= GFN_KALLSYMS_CHUNK) bytes into @buf:
 * their number, 0 at the end, -EINTR on a fatal signal, or the read's
 * error.
 */
ssize_t gfn_kallsyms_read(struct gfn_kallsyms *k, char *buf, size_t len)
{
	ssize_t n;

	if (fatal_signal_pending(current))
		return -EINTR;
	cond_resched();
	len = min_t(size_t, len, GFN_KALLSYMS_CHUNK);
	if (!k->ubuf)
		return kernel_read(k->file, buf, len, &k->pos);
	n = k->file->f_op->read(k->file, (char __user *)k->ubuf, len, &k->pos);
	if (n > 0 && copy_from_user(buf, (const char __user *)k->ubuf, n))
		return -EFAULT;
	return n;
}

void gfn_kallsyms_close(struct gfn_kallsyms *k)
{
	if (k->ubuf)
		vm_munmap(k->ubuf, GFN_KALLSYMS_CHUNK);
	filp_close(k->file, NULL);
}

/*
 * What the kernel calls @addr, into @buf (GFN_DESCRIBE_LEN bytes):
 * sprint_symbol()'s "name+0xoff/0xsize [module]".  Returns its length.
 */
static_assert(KSYM_SYMBOL_LEN <= GFN_DESCRIBE_LEN);
int gfn_symbol_describe(u64 addr, char *buf)
{
	return sprint_symbol(buf, (unsigned long)addr);
}
