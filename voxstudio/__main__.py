import sys

from voxstudio.cli import main

sys.exit(main())
