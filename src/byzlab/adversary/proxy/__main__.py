"""``python -m byzlab.adversary.proxy --config proxy.json``: the adversary proxy process."""

import sys

from byzlab.adversary.proxy.main import main

sys.exit(main())
