// SPDX-License-Identifier: GPL-2.0
/*
 * params: the module's parameters, registered here because module_param_cb
 * is a macro that 6.12's kernel crate does not offer.  Each parameter's
 * value is held, parsed and printed by a Rust object (its @arg:
 * module/boundary/params.rs), which also writes its description (modinfo's
 * parmdesc), so its words are written once, in Rust.
 */

#include <linux/moduleparam.h>

#include "shim.h"

static int gfn_param_set(const char *val, const struct kernel_param *kp)
{
	return gfn_rs_param_set(kp->arg, val);
}

static int gfn_param_get(char *buf, const struct kernel_param *kp)
{
	return gfn_rs_param_get(kp->arg, buf);
}

static const struct kernel_param_ops gfn_param_ops = {
	.set = gfn_param_set,
	.get = gfn_param_get,
};

module_param_cb(log, &gfn_param_ops, gfn_log_param, 0644);
