// SPDX-License-Identifier: GPL-2.0
/* gears_hello: a minimal module for loading into a guest from the host. It only
 * says hello on load (with its `who` parameter) and goodbye on unload. Built
 * against the guest kernel's Debian headers by the Makefile ("guest kernel
 * modules"); not part of the initramfs. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static char *who = "world";
module_param(who, charp, 0444);
MODULE_PARM_DESC(who, "name printed on load (default \"world\")");

static int __init gears_hello_init(void)
{
	pr_info("gears_hello: loaded (param=%s)\n", who);
	return 0;
}

static void __exit gears_hello_exit(void)
{
	pr_info("gears_hello: unloaded\n");
}

module_init(gears_hello_init);
module_exit(gears_hello_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("GEARS");
MODULE_DESCRIPTION("GEARS test module: prints a line on load and on unload");
