import sys

from retrainer.cli import main

sys.exit(main())
