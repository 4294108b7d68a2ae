import sys

from oc_virt_expose.cli import main

sys.exit(main())
