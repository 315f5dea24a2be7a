// SPDX-License-Identifier: GPL-2.0
/*
 * mutex: a mutex whose wait a fatal signal ends.  The kernel crate's Mutex
 * has no killable lock on 6.12, and mutex_init() and mutex_lock_killable()
 * are macros under lockdep.  One lock class for every open file's mutex.
 */

#include <linux/mutex.h>

#include "shim.h"

void gfn_mutex_init(struct mutex *lock)
{
	mutex_init(lock);
}

int gfn_mutex_lock_killable(struct mutex *lock)
{
	return mutex_lock_killable(lock);
}

void gfn_mutex_unlock(struct mutex *lock)
{
	mutex_unlock(lock);
}
