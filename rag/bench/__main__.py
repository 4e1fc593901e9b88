"""Child-process entry: ``python -m rag.bench TASK PARAMS_JSON OUT`` (see tasks.py)."""

import sys

from rag.bench.tasks import child_main

sys.exit(child_main(sys.argv[1:]))
