import sys

from oc_virt_expose.cli.main import main

sys.exit(main())
