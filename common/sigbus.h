/* SIGBUS from a mapped input file (it shrank under us, or a page could not
 * be read) as one error line instead of a crash. */
#ifndef COMMON_SIGBUS_H
#define COMMON_SIGBUS_H

/* From now on a SIGBUS, in any thread, removes UNLINK_PATH (NULL: nothing;
 * an unfinished output), writes MESSAGE (one line, newline included; kept
 * as given now, since a handler cannot format) on stderr once, even when
 * several threads fault together, and ends the process with STATUS. The
 * fault may come while a lock is held, so nothing else is attempted.
 * Calling it again replaces MESSAGE and UNLINK_PATH. */
void vd_sigbus_guard(const char *message, const char *unlink_path, int status);

#endif
