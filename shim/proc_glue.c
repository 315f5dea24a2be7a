// SPDX-License-Identifier: GPL-2.0
/*
 * proc_glue: /proc/gfn_to_pfn's proc_ops, which call the Rust callbacks
 * given at creation (module/boundary/proc_file.rs), every one of them.  In
 * C because the kernel crate has no procfs abstraction; what is done here
 * besides the call is what the VFS side of a proc file needs, said at each
 * place.  Every error is the callbacks'.
 */

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>

#include "shim.h"

static const struct gfn_proc_callbacks *gfn_cb(struct file *file)
{
	return pde_data(file_inode(file));
}

/*
 * procfs gives its regular files FMODE_ATOMIC_POS, so that read, write and
 * lseek on a file shared by two tasks take the VFS f_pos_lock, with a
 * mutex_lock() whose wait cannot be killed, across the whole callback,
 * which may wait on a fault that never finishes (userfaultfd, FUSE, NFS).
 * Each callback serialises the file's state itself, with a lock whose wait
 * can be killed, so the file does without it: a task sharing it with one
 * stuck in a fault can still be killed.  What is lost is only POSIX's
 * atomic position for two reads at once of one shared file: each read is
 * whole, but both may start at the same position, as on a character
 * device.
 */
static int gfn_proc_open(struct inode *inode, struct file *file)
{
	const struct gfn_proc_callbacks *cb = pde_data(inode);
	int ret = cb->open(&file->private_data);

	if (!ret)
		file->f_mode &= ~FMODE_ATOMIC_POS;
	return ret;
}

static int gfn_proc_release(struct inode *inode, struct file *file)
{
	gfn_cb(file)->release(file->private_data);
	return 0;
}

static ssize_t gfn_proc_read(struct file *file, char __user *buf, size_t len,
			     loff_t *pos)
{
	return gfn_cb(file)->read(file->private_data, buf, len, pos);
}

static ssize_t gfn_proc_write(struct file *file, const char __user *buf,
			      size_t len, loff_t *pos)
{
	return gfn_cb(file)->write(file->private_data, buf, len, pos);
}

/*
 * lseek within what the file's reply has so far: the callback's size, or
 * its error as it is.
 */
static loff_t gfn_proc_lseek(struct file *file, loff_t off, int whence)
{
	loff_t len = gfn_cb(file)->size(file->private_data);

	if (len < 0)
		return len;
	return fixed_size_llseek(file, off, whence, len);
}

static __poll_t gfn_proc_poll(struct file *file, struct poll_table_struct *pt)
{
	return (__force __poll_t)gfn_cb(file)->poll(file->private_data);
}

static const struct proc_ops gfn_proc_ops = {
	.proc_open = gfn_proc_open,
	.proc_release = gfn_proc_release,
	.proc_read = gfn_proc_read,
	.proc_write = gfn_proc_write,
	.proc_lseek = gfn_proc_lseek,
	.proc_poll = gfn_proc_poll,
};

/*
 * Creates /proc/@name, whose files call @cb (which must outlive it):
 * whether it was created.
 */
bool gfn_proc_create(const char *name, umode_t mode,
		     const struct gfn_proc_callbacks *cb)
{
	void *data = (void *)cb;

	return proc_create_data(name, mode, NULL, &gfn_proc_ops, data);
}

/*
 * A reference on this module, which a callback that may wait holds
 * (module/boundary/proc_file.rs): whether it was taken, which it is not
 * once the module is going.
 */
bool gfn_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void gfn_module_put(void)
{
	module_put(THIS_MODULE);
}

/* Waits for running callbacks and releases files still open. */
void gfn_proc_remove(const char *name)
{
	remove_proc_entry(name, NULL);
}
