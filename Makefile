# insure_stream: stream results kept by triggers (PGXS build)

EXTENSION = insure_stream
MODULE_big = insure_stream
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script of the current version is built from the per-concern
# SQL sources in src/sql/ (concatenated in name order, as pg_cron does); the
# released scripts, the first full one and the update chain, are installed
# as they are (ALTER EXTENSION UPDATE, CREATE EXTENSION ... VERSION).
EXTVERSION = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)
SQL_SOURCES = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(EXTENSION)--0.1.0.sql $(wildcard $(EXTENSION)--*--*.sql)
PGFILEDESC = "insure_stream - streaming results kept by triggers"

# setup creates the extension; the rest run in name order
REGRESS = setup $(filter-out setup,$(sort $(basename $(notdir $(wildcard sql/*.sql)))))

ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=insure_stream

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

# make SANITIZE=1: AddressSanitizer + UBSan build (scripts/sanitize.sh runs
# the suites with it; the postmaster needs the ASan runtime in LD_PRELOAD).
# -fno-wrapv (after PostgreSQL's -fwrapv) lets UBSan report signed overflow.
ifdef SANITIZE
PG_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -fno-wrapv
PG_LDFLAGS += -fsanitize=address,undefined
endif
EXTRA_CLEAN = output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on the headers (PGXS does not track headers)
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	cat $^ > $@

# installcheck runs pg_regress, isolation and TAP; test/run-suites.sh adds pgTAP (pg_prove)
