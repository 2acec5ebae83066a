/* Initrd state selection: makes the moss state named on the kernel command line the active
 * one before switch_root, with the same atomic exchange moss uses. Plain C, linked static. */
#ifndef ONIX_BOOT_INITRD_SELECT_FSTX_H_
#define ONIX_BOOT_INITRD_SELECT_FSTX_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Finds "moss.fstx=<id>" in a kernel command line and copies <id> to `out`.
 * Returns 1 when found (and it fits), 0 otherwise. The last occurrence wins, as in the kernel. */
int onix_fstx_from_cmdline(const char* cmdline, char* out, size_t out_len);

/* Makes state `fstx` the active one under the machine root `root`:
 *  - ROOT/usr/.fstx already says `fstx`: nothing to do;
 *  - else the archived tree whose usr/.fstx says `fstx` (normally ROOT/.moss/root/<fstx>/usr,
 *    or any ROOT/.moss/root/<dir>/usr an interrupted earlier switch left under another name)
 *    is exchanged with ROOT/usr by renameat2(RENAME_EXCHANGE) (the commit point), the
 *    directories are fsynced, and the archive directory is renamed to the id of the tree it
 *    now holds (ROOT/.moss/root/<previous fstx>, RENAME_NOREPLACE), so the archive keeps
 *    moss's naming.
 * Everything that can fail is checked before the exchange: an unknown state, a tree whose
 * .fstx disagrees, or an archive name already taken leave ROOT untouched. A crash before the
 * exchange leaves the old /usr, after it the new one; a crash between the exchange and the
 * archive rename leaves a directory named after the wrong state, which the next call (and
 * moss, reading .fstx) resolves by content.
 * Returns 0 on success, -1 on failure; `msg` gets a one-line description either way. */
int onix_select_fstx(const char* root, const char* fstx, char* msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif /* ONIX_BOOT_INITRD_SELECT_FSTX_H_ */
