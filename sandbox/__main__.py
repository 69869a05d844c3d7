"""`python -m sandbox ...`: run the sandbox server (see sandbox/server.py for the options)."""

import sys

from sandbox.server import main

sys.exit(main())
