/*-------------------------------------------------------------------------
 *
 * module.c
 *		Module magic and load-time set-up of insure_stream.
 *
 * Nothing here needs shared_preload_libraries: the library is loaded on
 * first use of one of its functions or triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "compat.h"
#include "config.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* settings live in insure_stream.config; keep the GUC prefix for later */
	MarkGUCPrefixReserved("insure_stream");
	isx_register_settings_callbacks();
}
