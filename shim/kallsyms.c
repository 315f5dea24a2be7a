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
#include <linux/uaccess.h>

#include "shim.h"

/*
 * Opens /proc/kallsyms into @k: 0, or GFN_KALLSYMS_NO_MM when the file
 * must be read into the task's memory and the task has none (a kernel
 * thread), or the error of opening or mapping as it is.
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
			return GFN_KALLSYMS_NO_MM;
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
 * what the read returned (their number, 0 at the end, or its error), with
 * @uncopied set to the bytes read that could not be copied from the
 * task's memory.
 */
ssize_t gfn_kallsyms_read(struct gfn_kallsyms *k, char *buf, size_t len,
			  size_t *uncopied)
{
	ssize_t n;

	*uncopied = 0;
	cond_resched();
	len = min_t(size_t, len, GFN_KALLSYMS_CHUNK);
	if (!k->ubuf)
		return kernel_read(k->file, buf, len, &k->pos);
	n = k->file->f_op->read(k->file, (char __user *)k->ubuf, len, &k->pos);
	if (n > 0)
		*uncopied = copy_from_user(buf, (const char __user *)k->ubuf, n);
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
