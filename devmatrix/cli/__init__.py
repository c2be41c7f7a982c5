"""The `devmatrix` command line."""

import os

# gRPC's C core prints an INFO line on stderr whenever the process forks while its threads
# run (pgserver forks pg_ctl); keep the CLI's stderr to its own one-line messages.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
