/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What crypto.c, secmem.c and keys.c share and nobody else uses.
 */
#ifndef XDPWG_CRYPTO_INTERNAL_H
#define XDPWG_CRYPTO_INTERNAL_H

/* Log what failed (with OpenSSL's queued error) and abort: the crypto library is unusable. */
void __attribute__((noreturn)) crypto_fatal(const char *what);
/* crypto_init, or crypto_fatal: every entry point may be the first call. */
void crypto_ready(void);

#endif
