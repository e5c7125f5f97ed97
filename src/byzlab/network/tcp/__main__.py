"""``python -m byzlab.network.tcp --config node.json``: one honest node process."""

import sys

from byzlab.network.tcp.main import main

sys.exit(main())
